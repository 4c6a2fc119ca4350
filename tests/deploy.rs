//! The deployment files (`Dockerfile`, `deploy/`) name only commands, flags and variables
//! attune takes: no container runtime or cluster runs here, so this is what can be checked of
//! them without one.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn files() -> Vec<PathBuf> {
    let mut out = vec![root().join("Dockerfile"), root().join("deploy/compose.yaml")];
    let k8s = root().join("deploy/kubernetes");
    for e in std::fs::read_dir(&k8s).unwrap() {
        out.push(e.unwrap().path());
    }
    out
}

/// Every flow list (`["serve", "--no-worker", ...]`) that starts an attune command.
fn commands(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .filter_map(|l| l.find('[').map(|i| &l[i..]))
        .filter_map(|list| serde_json::from_str::<Vec<String>>(list.trim()).ok())
        .filter(|args| args.first().is_some_and(|a| a == "serve" || a == "worker"))
        .collect()
}

#[test]
fn every_deployed_command_parses() {
    let mut seen = 0;
    for f in files() {
        let text = std::fs::read_to_string(&f).unwrap();
        for args in commands(&text) {
            seen += 1;
            // `--help` after the arguments: clap checks each one before it prints the help.
            let out = Command::new(env!("CARGO_BIN_EXE_attune"))
                .args(&args)
                .arg("--help")
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}: attune {} is refused: {}",
                f.display(),
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    assert!(seen >= 5, "found only {seen} commands in the deployment files");
}

#[test]
fn every_deployed_variable_is_read_by_attune() {
    let mut sources = String::new();
    collect(&root().join("src"), &mut sources);
    for f in files() {
        let text = std::fs::read_to_string(&f).unwrap();
        for (i, _) in text.match_indices("ATTUNE_") {
            let name: String = text[i..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || *c == '_')
                .collect();
            assert!(
                sources.contains(&format!("\"{name}\"")),
                "{} sets {name}, which attune does not read",
                f.display()
            );
        }
    }
}

#[test]
fn a_bad_flag_is_refused_even_with_help() {
    // The check above means something only if clap refuses an unknown flag before `--help`.
    let out = Command::new(env!("CARGO_BIN_EXE_attune"))
        .args(["serve", "--no-such-flag", "--help"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

fn collect(dir: &Path, out: &mut String) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push_str(&std::fs::read_to_string(&p).unwrap());
        }
    }
}
