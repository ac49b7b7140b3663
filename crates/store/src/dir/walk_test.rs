use super::*;

fn touch(root: &Path, relative: &str) {
    let path = root.join(relative);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, "# a file\n").unwrap();
}

fn listed(files: &Files) -> Vec<String> {
    files
        .files
        .iter()
        .map(|p| p.display().to_string())
        .collect()
}

fn problems(files: &Files) -> Vec<String> {
    files.problems.iter().map(ToString::to_string).collect()
}

#[test]
fn resource_files_at_any_depth_in_path_order_and_nothing_hidden() {
    let root = tempfile::tempdir().unwrap();
    for file in [
        "b.yaml",
        "a.yml",
        "c.json",
        "notes.txt",
        "rt.YAML",
        "rt.yaml~",
        ".hidden.yaml",
        ".git/config.yaml",
        "..data/rt.yaml",
        "b/x.yaml",
        "b/deeper/y.json",
        "b/.rt.yaml.swp",
        "b/.cache/z.yaml",
    ] {
        touch(root.path(), file);
    }
    // A directory named like a file is still a directory.
    fs::create_dir(root.path().join("d.yaml")).unwrap();
    touch(root.path(), "d.yaml/inside.yaml");

    let files = list_files(root.path());
    assert_eq!(
        listed(&files),
        [
            "a.yml",
            "b/deeper/y.json",
            "b/x.yaml",
            "b.yaml",
            "c.json",
            "d.yaml/inside.yaml"
        ]
    );
    assert!(files.problems.is_empty(), "{:?}", files.problems);
    assert!(files.files.is_sorted(), "path order is `PathBuf` order");
}

#[test]
fn a_missing_directory_holds_nothing_and_a_file_is_not_a_directory() {
    let root = tempfile::tempdir().unwrap();
    assert_eq!(list_files(&root.path().join("absent")), Files::default());

    touch(root.path(), "file.yaml");
    let files = list_files(&root.path().join("file.yaml"));
    assert!(files.files.is_empty());
    assert_eq!(files.problems.len(), 1, "{:?}", files.problems);
    assert_eq!(files.problems[0].file, Path::new("."));
    assert!(
        files.problems[0]
            .message
            .starts_with("directory cannot be read"),
        "{}",
        files.problems[0]
    );
}

#[test]
fn a_directory_nested_too_deep_is_reported_not_read() {
    let root = tempfile::tempdir().unwrap();
    let mut deepest = PathBuf::new();
    for level in 0..=MAX_DEPTH {
        deepest.push(format!("d{level}"));
    }
    touch(root.path(), &deepest.join("far.yaml").display().to_string());
    let mut last_read = deepest.clone();
    last_read.pop();
    touch(
        root.path(),
        &last_read.join("near.yaml").display().to_string(),
    );

    let files = list_files(root.path());
    assert_eq!(files.files, [last_read.join("near.yaml")]);
    assert_eq!(files.problems.len(), 1, "{:?}", files.problems);
    assert_eq!(files.problems[0].file, deepest);
    assert!(
        files.problems[0]
            .message
            .contains(&format!("nested deeper than {MAX_DEPTH}"))
    );
}

#[cfg(unix)]
mod links {
    use std::os::unix::fs::symlink;

    use super::*;

    #[test]
    fn links_are_followed_the_way_a_mounted_config_map_needs() {
        let root = tempfile::tempdir().unwrap();
        // Kubernetes' layout: the files are links into a hidden, atomically swapped directory.
        touch(root.path(), "..2024_01_01/rt.yaml");
        symlink("..2024_01_01", root.path().join("..data")).unwrap();
        symlink("..data/rt.yaml", root.path().join("rt.yaml")).unwrap();
        // A link to a directory outside is read like a directory inside.
        let outside = tempfile::tempdir().unwrap();
        touch(outside.path(), "shared.yaml");
        symlink(outside.path(), root.path().join("shared")).unwrap();

        let files = list_files(root.path());
        assert_eq!(listed(&files), ["rt.yaml", "shared/shared.yaml"]);
        assert!(files.problems.is_empty(), "{:?}", files.problems);
    }

    #[test]
    fn a_directory_reached_again_is_read_once_and_reported() {
        let root = tempfile::tempdir().unwrap();
        touch(root.path(), "team/rt.yaml");
        // A loop back to the top, and a second way into one directory.
        symlink("..", root.path().join("team/up")).unwrap();
        symlink("team", root.path().join("zz-alias")).unwrap();

        let files = list_files(root.path());
        assert_eq!(listed(&files), ["team/rt.yaml"]);
        assert_eq!(
            problems(&files),
            [
                "team/up: is the directory . again (through a symbolic link): not read twice",
                "zz-alias: is the directory team again (through a symbolic link): not read twice",
            ]
        );
    }

    #[test]
    fn a_resource_file_linked_to_nothing_is_reported_and_other_dead_links_are_not() {
        let root = tempfile::tempdir().unwrap();
        symlink("gone.yaml", root.path().join("rt.yaml")).unwrap();
        symlink("gone", root.path().join("README")).unwrap();

        let files = list_files(root.path());
        assert!(files.files.is_empty());
        assert_eq!(
            problems(&files),
            ["rt.yaml: is a symbolic link to gone.yaml, which does not exist"]
        );
    }
}
