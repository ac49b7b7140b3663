use super::*;

const FILE: &str = "tokens.yaml";

/// sha256("s3cret-foxtrot")
const FOXTROT_SHA256: &str = "9b602bb0b58b1d0d9d5af76e80a0e08ad0ea79af1720973ecda835d174f46cc9";

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn parse(text: &str) -> Tokens {
    Tokens::parse(text, FILE).unwrap_or_else(|e| panic!("{e}"))
}

fn error(text: &str) -> String {
    match Tokens::parse(text, FILE) {
        Ok(tokens) => panic!("accepted: {tokens:?}"),
        Err(e) => e.to_string(),
    }
}

const DESIGN_EXAMPLE: &str = r#"
tokens:
  - token: s3cret-echo          # or tokenSha256: <hex>, so the file need not hold the secret
    subject: team-echo
    rules:
      - namespaces: [echo]      # '*' for all
        kinds: [RouteTable]     # '*' for all
        verbs: [get, list, create, update, patch, delete]
"#;

#[test]
fn reads_the_design_example() {
    let tokens = parse(DESIGN_EXAMPLE);
    assert_eq!(tokens.len(), 1);
    let echo = tokens
        .subject_of("s3cret-echo")
        .expect("the token is known");
    assert_eq!(echo.name(), "team-echo");
    for verb in Verb::ALL {
        assert!(
            echo.may(verb, Kind::RouteTable, Scope::Namespace("echo")),
            "{verb}"
        );
        assert!(
            !echo.may(verb, Kind::RouteTable, Scope::Namespace("foxtrot")),
            "{verb}"
        );
        assert!(
            !echo.may(verb, Kind::Upstream, Scope::Namespace("echo")),
            "{verb}"
        );
    }
    assert!(
        !echo.may(Verb::List, Kind::RouteTable, Scope::AllNamespaces),
        "a list across all namespaces needs namespaces ['*']"
    );
}

#[test]
fn unknown_tokens_and_near_misses_are_not_known() {
    let tokens = parse(DESIGN_EXAMPLE);
    for wrong in ["", "s3cret", "s3cret-echo ", "S3CRET-ECHO", "s3cret-echo2"] {
        assert!(tokens.subject_of(wrong).is_none(), "{wrong:?}");
    }
}

#[test]
fn a_sha256_stands_for_its_token_in_either_case() {
    assert_eq!(sha256_hex("s3cret-foxtrot"), FOXTROT_SHA256);
    for hex in [FOXTROT_SHA256.to_string(), FOXTROT_SHA256.to_uppercase()] {
        let tokens = parse(&format!(
            "tokens:\n- tokenSha256: {hex}\n  subject: team-foxtrot\n  rules: []\n"
        ));
        let subject = tokens.subject_of("s3cret-foxtrot").expect("known");
        assert_eq!(subject.name(), "team-foxtrot");
        assert!(
            tokens.subject_of(FOXTROT_SHA256).is_none(),
            "the digest is not the token"
        );
    }
}

#[test]
fn stars_grant_everything_and_kinds_take_their_aliases() {
    let tokens = parse(
        r#"
tokens:
  - token: admin
    subject: platform
    rules:
      - namespaces: ['*']
        kinds: ['*']
        verbs: ['*']
  - token: reader
    subject: reader
    rules:
      - namespaces: [echo, foxtrot]
        kinds: [routetables, vs, Upstream, endpoints.gloo.solo.io]
        verbs: [get, list]
"#,
    );
    let admin = tokens.subject_of("admin").unwrap();
    for kind in Kind::ALL {
        for verb in Verb::ALL {
            assert!(admin.may(verb, kind, Scope::Namespace("gloo-system")));
            assert!(admin.may(verb, kind, Scope::AllNamespaces));
        }
    }
    let reader = tokens.subject_of("reader").unwrap();
    for kind in [
        Kind::RouteTable,
        Kind::VirtualService,
        Kind::Upstream,
        Kind::Endpoint,
    ] {
        assert!(
            reader.may(Verb::Get, kind, Scope::Namespace("foxtrot")),
            "{kind}"
        );
        assert!(
            !reader.may(Verb::Update, kind, Scope::Namespace("foxtrot")),
            "{kind}"
        );
    }
    assert!(!reader.may(Verb::Get, Kind::Settings, Scope::Namespace("echo")));
}

#[test]
fn rules_add_up_and_no_rules_grant_nothing() {
    let tokens = parse(
        r#"
tokens:
  - token: two-rules
    subject: team-echo
    rules:
      - {namespaces: [echo], kinds: [RouteTable], verbs: [update]}
      - {namespaces: [echo], kinds: [Upstream], verbs: [get]}
  - token: monitoring
    subject: prometheus
"#,
    );
    let echo = tokens.subject_of("two-rules").unwrap();
    assert!(echo.may(Verb::Update, Kind::RouteTable, Scope::Namespace("echo")));
    assert!(echo.may(Verb::Get, Kind::Upstream, Scope::Namespace("echo")));
    assert!(
        !echo.may(Verb::Update, Kind::Upstream, Scope::Namespace("echo")),
        "rules are not mixed: update is granted on RouteTable only"
    );
    let monitoring = tokens.subject_of("monitoring").unwrap();
    for kind in Kind::ALL {
        assert!(!monitoring.may(Verb::Get, kind, Scope::Namespace("echo")));
    }
}

#[test]
fn the_refusal_names_subject_verb_kind_and_namespace() {
    let tokens = parse(DESIGN_EXAMPLE);
    let echo = tokens.subject_of("s3cret-echo").unwrap();
    assert_eq!(
        echo.refusal(Verb::Update, Kind::RouteTable, Scope::Namespace("foxtrot")),
        r#"subject "team-echo" may not update RouteTable in namespace "foxtrot""#
    );
    let across = echo.refusal(Verb::List, Kind::RouteTable, Scope::AllNamespaces);
    assert!(
        across
            .starts_with(r#"subject "team-echo" may not list RouteTable across all namespaces: "#),
        "{across}"
    );
}

#[test]
fn errors_name_the_file_and_the_field_path() {
    let cases: &[(&str, &str)] = &[
        (
            "tokens:\n- token: a\n  subject: s\n  rules:\n  - namespaces: [echo]\n    kinds: [RouteTable]\n    verbs: [get, gett]\n",
            r#"tokens.yaml: tokens[0].rules[0].verbs[1]: unknown verb "gett""#,
        ),
        (
            "tokens:\n- token: a\n  subject: s\n  rules:\n  - namespaces: [echo]\n    kinds: [RouteTabel]\n    verbs: [get]\n",
            r#"tokens.yaml: tokens[0].rules[0].kinds[0]: unknown kind "RouteTabel""#,
        ),
        (
            "tokens:\n- token: a\n  subject: s\n  rules:\n  - namespaces: [Echo]\n    kinds: ['*']\n    verbs: [get]\n",
            r#"tokens.yaml: tokens[0].rules[0].namespaces[0]: "Echo" is not a namespace"#,
        ),
        (
            "tokens:\n- token: a\n  subject: s\n  rules:\n  - namespaces: [echo]\n    kind: [RouteTable]\n    verbs: [get]\n",
            "tokens.yaml: tokens[0].rules[0].kind: unknown field `kind`",
        ),
        (
            "tokens:\n- token: a\n  subject: s\n  rules:\n  - namespaces: [echo]\n    verbs: [get]\n",
            "tokens.yaml: tokens[0].rules[0]: missing field `kinds`",
        ),
        (
            "tokens:\n- token: a\n  subject: s\n  rules:\n  - namespaces: []\n    kinds: ['*']\n    verbs: [get]\n",
            "tokens.yaml: tokens[0].rules[0].namespaces: empty",
        ),
        (
            "tokens:\n- token: a\n  subject: s\n  rules:\n  - namespaces: echo\n    kinds: ['*']\n    verbs: [get]\n",
            "tokens.yaml: tokens[0].rules[0].namespaces: invalid type",
        ),
        (
            "tokens:\n- token: a\n  subject: s\n- token: b\n  tokenSha256: 00\n  subject: t\n",
            "tokens.yaml: tokens[1]: give either token or tokenSha256, not both",
        ),
        (
            "tokens:\n- subject: s\n",
            "tokens.yaml: tokens[0]: missing: give token",
        ),
        (
            "tokens:\n- tokenSha256: abc\n  subject: s\n",
            "tokens.yaml: tokens[0].tokenSha256: must be 64 hexadecimal digits",
        ),
        (
            "tokens:\n- token: ''\n  subject: s\n",
            "tokens.yaml: tokens[0].token: empty",
        ),
        (
            "tokens:\n- token: two words\n  subject: s\n",
            "tokens.yaml: tokens[0].token: a bearer token can hold only visible ASCII",
        ),
        (
            "tokens:\n- token: a\n  subject: ' '\n",
            "tokens.yaml: tokens[0].subject: empty",
        ),
        (
            "tokens:\n- token: a\n",
            "tokens.yaml: tokens[0]: missing field `subject`",
        ),
        (
            "tokens:\n- token: a\n  subject: s\n  role: admin\n",
            "tokens.yaml: tokens[0].role: unknown field `role`",
        ),
        ("tokens: []\n", "tokens.yaml: tokens: empty"),
        (
            "token: a\n",
            "tokens.yaml: token: unknown field `token`, expected `tokens`",
        ),
        ("", "tokens.yaml: the file is empty"),
        ("tokens: [\n", "tokens.yaml: "),
    ];
    for (text, expected) in cases {
        let message = error(text);
        assert!(
            message.starts_with(expected),
            "for {text:?}\n  expected: {expected}\n  got:      {message}"
        );
    }
}

#[test]
fn a_sha256_must_be_64_hex_digits() {
    let not_hex = "g".repeat(64);
    let too_long = "a".repeat(65);
    for hex in [not_hex.as_str(), too_long.as_str(), "", "Ω"] {
        let message = error(&format!("tokens:\n- tokenSha256: '{hex}'\n  subject: s\n"));
        assert!(
            message.contains("tokens[0].tokenSha256: must be 64 hexadecimal digits"),
            "{message}"
        );
    }
}

#[test]
fn the_same_token_twice_is_refused_even_once_as_its_digest() {
    let message = error(&format!(
        "tokens:\n- token: s3cret-foxtrot\n  subject: a\n- tokenSha256: {FOXTROT_SHA256}\n  subject: b\n"
    ));
    assert_eq!(
        message,
        r#"tokens.yaml: tokens[1]: the same token as tokens[0] (subject "a"): a token must name one subject"#
    );
}

#[test]
fn a_missing_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.yaml");
    let message = Tokens::load(&missing).unwrap_err().to_string();
    assert!(
        message.starts_with(&format!(
            "cannot read the auth file {}: ",
            missing.display()
        )),
        "{message}"
    );
}

#[test]
fn debug_output_shows_subjects_and_no_secret() {
    let tokens = parse(DESIGN_EXAMPLE);
    let shown = format!("{tokens:?}");
    assert!(shown.contains("team-echo"), "{shown}");
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(!shown.contains(&sha256_hex("s3cret-echo")[..16]), "{shown}");
}
