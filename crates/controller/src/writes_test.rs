use lockgate_api::Kind;

use super::*;

fn key(name: &str) -> ResourceKey {
    ResourceKey::new(Kind::RouteTable, "echo", name)
}

fn refused(errors: usize, warnings: usize) -> Refused {
    let problems = |n: usize, what: &str| {
        (0..n)
            .map(|i| {
                let key = key(&format!("rt-{i:02}"));
                let problem = lockgate_translate::Problem {
                    severity: lockgate_translate::Severity::Error,
                    origin: lockgate_translate::Origin::Own,
                    resource: key.clone(),
                    field: String::new(),
                    code: lockgate_translate::Code::InvalidRouteActionError,
                    message: format!("{what} {i}"),
                };
                (key, problem)
            })
            .collect()
    };
    Refused {
        added_errors: problems(errors, "error"),
        added_warnings: problems(warnings, "warning"),
        validation: ChangeValidation {
            before: Arc::default(),
            after: Default::default(),
            snapshot: Arc::default(),
            content_revision: Revision(1),
            served: Default::default(),
            prepared: Arc::new(crate::prepared::Prepared::new(
                Arc::default(),
                Arc::default(),
                lockgate_translate::translate(&Default::default(), &Default::default()),
            )),
        },
    }
}

#[test]
fn a_refusal_names_what_it_adds_and_counts_what_it_does_not_list() {
    let message = refused(1, 1).to_string();
    assert_eq!(
        message,
        "the change is refused because it adds errors (Settings gloo-system.default has validation.alwaysAccept: false): RouteTable echo.rt-00: error 0; RouteTable echo.rt-00: warning 0"
    );
    assert!(
        refused(0, 2)
            .to_string()
            .starts_with("the change is refused because it adds warnings ")
    );
    let long = refused(12, 0).to_string();
    assert!(long.contains("error 9;"), "{long}");
    assert!(!long.contains("error 10"), "{long}");
    assert!(
        long.ends_with("; and 2 more (see details.problems)"),
        "{long}"
    );
}

#[test]
fn write_results_are_spelled_as_the_api_answers_them() {
    let spelled: Vec<&str> = [
        PutResult::Created.into(),
        PutResult::Configured.into(),
        PutResult::Unchanged.into(),
        WriteResult::Deleted,
    ]
    .into_iter()
    .map(WriteResult::as_str)
    .collect();
    assert_eq!(spelled, ["created", "configured", "unchanged", "deleted"]);
}
