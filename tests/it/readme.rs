//! The README's commands, run: every fenced `sh` block as a bash script (its example URLs
//! replaced by a fresh database), every `crontab` line's command against a migrated
//! database, and the GitHub Actions job of `examples/github-actions.yml` (which the README
//! shows verbatim) step by step, on a clean and on a drifted staging database.
//!
//! The commands that build or test `migrate` itself cannot run inside the suite: in the
//! scripts `cargo` and `.ci/pg-bindir` are shell functions that record how they were called
//! (`cargo run ... -- ARGS` runs the binary under test, which is what it builds), and each
//! recorded call is checked against what `.ci/run` runs: its features, test filters,
//! environment variables and PostgreSQL versions.

use crate::harness::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A fenced block of the documentation: its info string, its text (the fence's indentation
/// removed), and the file and line its fence opens on.
struct Block {
    lang: String,
    text: String,
    file: String,
    line: usize,
}

/// The README and the files of `docs/`, one after the other.
fn readme() -> String {
    documentation()
        .into_iter()
        .map(|(_, text)| text)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every fenced block of the README and of `docs/`.
fn all_blocks() -> Vec<Block> {
    documentation()
        .iter()
        .flat_map(|(file, text)| {
            let mut blocks = blocks(text);
            for b in &mut blocks {
                b.file = file.clone();
            }
            blocks
        })
        .collect()
}

fn blocks(readme: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<(usize, String, usize, Vec<String>)> = None;
    for (i, line) in readme.lines().enumerate() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        match &mut open {
            None if trimmed.starts_with("```") => {
                open = Some((indent, trimmed[3..].trim().to_string(), i + 1, Vec::new()));
            }
            Some((_, _, _, _)) if trimmed == "```" => {
                let (_, lang, line, body) = open.take().unwrap();
                out.push(Block {
                    lang,
                    text: body.join("\n") + "\n",
                    file: String::new(),
                    line,
                });
            }
            Some((indent, _, _, body)) => {
                let cut = line.len().min(*indent);
                body.push(line[cut..].to_string());
            }
            None => {}
        }
    }
    assert!(open.is_none(), "an unclosed fence in the README");
    out
}

/// A scratch copy of the project as a user has it: `migrations.toml` and `schema/`, with
/// the binary under test at `target/release/migrate` (where `cargo build --release` puts it).
struct Project {
    dir: PathBuf,
    bin: PathBuf,
    /// One line per recorded `cargo` or `.ci/pg-bindir` call.
    calls: PathBuf,
}

impl Project {
    fn new() -> Project {
        let dir = std::env::temp_dir().join(unique_name("migrate-readme"));
        copy_dir(&crate_root().join("schema"), &dir.join("schema"));
        std::fs::copy(
            crate_root().join("migrations.toml"),
            dir.join("migrations.toml"),
        )
        .unwrap();
        let bin = dir.join("target/release");
        std::fs::create_dir_all(&bin).unwrap();
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_migrate"), bin.join("migrate")).unwrap();
        let calls = dir.join("target/calls");
        Project { dir, bin, calls }
    }

    /// bash running `script` in the project, with `cargo` and `.ci/pg-bindir` recorded.
    fn bash(&self, script: &str, path_first: Option<&Path>) -> Command {
        let prelude = r#"
cargo() {
  if [ "$1" = run ]; then
    while [ "$#" -gt 0 ] && [ "$1" != -- ]; do shift; done
    shift
    migrate "$@"
    return
  fi
  echo "cargo $* ${MIGRATE_TEST_PG_BINDIR:+MIGRATE_TEST_PG_BINDIR} ${MIGRATE_TEST_PG_IMAGE_TAG:+MIGRATE_TEST_PG_IMAGE_TAG}" >> "$README_CALLS"
}
.ci/pg-bindir() { echo ".ci/pg-bindir $*" >> "$README_CALLS"; echo "/pg-bindir-$1"; }
.ci/install() { echo ".ci/install $*" >> "$README_CALLS"; }
set -euo pipefail
"#;
        let mut path = std::env::var("PATH").unwrap_or_default();
        if let Some(first) = path_first {
            path = format!("{}:{path}", first.display());
        }
        let mut cmd = Command::new("bash");
        cmd.arg("-c")
            .arg(format!("{prelude}{script}"))
            .current_dir(&self.dir)
            .env("PATH", path)
            .env("README_CALLS", &self.calls)
            .env("MANPAGER", "cat")
            .env("NO_COLOR", "1")
            .env_remove("DATABASE_URL")
            .env_remove("MIGRATE_PG_BINDIR")
            .env_remove("CI")
            .stdin(Stdio::null());
        if let Some(d) = test_bindir() {
            cmd.env("MIGRATE_PG_BINDIR", d);
        }
        cmd
    }

    fn recorded(&self) -> Vec<String> {
        std::fs::read_to_string(&self.calls)
            .unwrap_or_default()
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect()
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `text` with every `postgres://...` URL replaced by `url`.
fn with_url(text: &str, url: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("postgres://") {
        out.push_str(&rest[..at]);
        let end = rest[at..]
            .find(|c: char| c.is_whitespace() || c == '\'' || c == '"' || c == '`')
            .map_or(rest.len(), |e| at + e);
        out.push_str(url);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn shell_out(cmd: &mut Command) -> Output {
    let out = run(cmd);
    assert!(!out.stderr.contains("panicked"), "a panic:\n{}", out.stderr);
    out
}

/// Each recorded call of a build or test command is one `.ci/run` makes, or narrows one:
/// its features are the crate's, its test filters name test modules, its environment
/// variables are read by the harness, its PostgreSQL versions are the ones CI installs.
fn assert_ci_runs(calls: &[String]) {
    let ci = std::fs::read_to_string(crate_root().join(".ci/run")).unwrap();
    let cargo_toml = std::fs::read_to_string(crate_root().join("Cargo.toml")).unwrap();
    let harness = std::fs::read_to_string(crate_root().join("tests/it/harness.rs")).unwrap();
    let pg_bindir = std::fs::read_to_string(crate_root().join(".ci/pg-bindir")).unwrap();
    for call in calls {
        let words: Vec<&str> = call.split(' ').collect();
        match words[..] {
            // the install line: .ci/run runs it first, on every fresh machine CI starts from
            [".ci/install"] => assert!(
                ci.contains("\n.ci/install\n") && crate_root().join(".ci/install").is_file(),
                "{call}: .ci/run does not run .ci/install"
            ),
            [".ci/pg-bindir", major] => {
                assert!(
                    ci.contains("for major in 16 17 18") && ["16", "17", "18"].contains(&major),
                    "{call}: not a version .ci/run installs"
                );
                assert!(pg_bindir.contains(&format!("{major})")), "{call}");
            }
            ["cargo", verb, ..] => {
                // `cargo build` makes the binary the suite runs; every other verb is .ci/run's
                assert!(
                    verb == "build" || ci.contains(&format!("cargo {verb} ")),
                    "{call}: .ci/run runs no `cargo {verb}`"
                );
                let mut after_dashes = false;
                let mut target = "it";
                let mut words = words[2..].iter().peekable();
                while let Some(w) = words.next() {
                    match *w {
                        "--" => after_dashes = true,
                        "--features" => {
                            let feature = words.next().unwrap();
                            assert!(
                                cargo_toml.contains(&format!("\n{feature} = ")),
                                "{call}: no feature {feature}"
                            );
                            assert!(ci.contains(&format!("--features {feature}")), "{call}");
                        }
                        "--test" => {
                            target = words.next().unwrap();
                            assert!(crate_root().join("tests").join(target).is_dir(), "{call}");
                        }
                        v @ ("MIGRATE_TEST_PG_BINDIR" | "MIGRATE_TEST_PG_IMAGE_TAG") => {
                            assert!(harness.contains(v), "{call}: the harness reads no {v}");
                        }
                        f if after_dashes && !f.starts_with('-') => {
                            let module = f.split("::").next().unwrap();
                            assert!(
                                crate_root()
                                    .join(format!("tests/{target}/{module}.rs"))
                                    .is_file(),
                                "{call}: no test module {module}"
                            );
                            // CI runs the table-driven target whole, and named modules of `it`
                            // on the other versions
                            assert!(
                                target == "cases" || ci.contains(f),
                                "{call}: .ci/run never runs {f}"
                            );
                        }
                        _ => {}
                    }
                }
            }
            _ => panic!("an unexpected recorded call: {call}"),
        }
    }
}

/// Every `sh` block of the README runs to exit 0 on a fresh database (the Supabase stand-in
/// for the one whose URL is a Supabase project's), in a copy of the project; each `crontab`
/// line's command runs against a database with Witchcraft applied.
#[tokio::test]
async fn every_shell_command_in_the_readme_runs() {
    let all = all_blocks();
    let shell: Vec<&Block> = all.iter().filter(|b| b.lang == "sh").collect();
    assert!(
        shell.len() >= 6,
        "the README's shell blocks: {}",
        shell.len()
    );
    let unlabelled: Vec<String> = all
        .iter()
        .filter(|b| b.lang.is_empty())
        .map(|b| format!("{} line {}", b.file, b.line))
        .collect();
    assert!(
        unlabelled.is_empty(),
        "fences without a language (sh blocks are run, so every block says what it is) at README lines {unlabelled:?}"
    );
    let mut calls = Vec::new();
    for block in &shell {
        let project = Project::new();
        let mode = if block.text.contains("supabase.co") {
            Mode::Supabase
        } else {
            Mode::Plain
        };
        let db = TestDb::in_mode(mode).await;
        let script = with_url(&block.text, &db.url);
        let out = shell_out(&mut project.bash(&script, Some(&project.bin)));
        assert_eq!(
            out.code, 0,
            "{} line {}:\n{}\nstdout:\n{}\nstderr:\n{}",
            block.file, block.line, block.text, out.stdout, out.stderr
        );
        check_effects(block, &project, &db, &out).await;
        calls.extend(project.recorded());
    }
    assert!(
        calls.iter().any(|c| c.starts_with("cargo test")),
        "{calls:?}"
    );
    assert_ci_runs(&calls);

    let crontab: Vec<&Block> = all.iter().filter(|b| b.lang == "crontab").collect();
    assert!(!crontab.is_empty());
    for block in crontab {
        for line in block.text.lines().filter(|l| !l.trim().is_empty()) {
            let command: String = line
                .split_whitespace()
                .skip(5)
                .collect::<Vec<_>>()
                .join(" ");
            assert!(!command.is_empty(), "README line {}: {line}", block.line);
            let (db, _) = migrated("witchcraft").await;
            let project = Project::new();
            let out = shell_out(
                project
                    .bash(&command, Some(&project.bin))
                    .env("DATABASE_URL", &db.url),
            );
            assert_eq!(
                out.code, 0,
                "README line {}: {command}\n{}{}",
                block.line, out.stdout, out.stderr
            );
            assert!(!out.stdout.trim().is_empty(), "{command}: no output");
        }
    }
}

/// Fails unless `set`'s newest applied migration in the history is its newest file.
async fn assert_at_latest(c: &mut sqlx::PgConnection, set: &str) {
    let sql = format!("SELECT max(version) FROM migrate.history WHERE set_name = '{set}'");
    assert_eq!(
        scalar_i64(c, &sql).await,
        embedded_set(set).latest(),
        "{set}"
    );
}

/// What some blocks must have done beyond exiting 0.
async fn check_effects(block: &Block, project: &Project, db: &TestDb, out: &Output) {
    let text = &block.text;
    if text.contains("migrate new witchcraft add_user_nickname") {
        // the developer's loop: the new pair written, snapshot recorded it, the down ran
        let files: Vec<String> = std::fs::read_dir(project.dir.join("schema/witchcraft"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|f| f.contains("add_user_nickname"))
            .collect();
        assert_eq!(files.len(), 2, "{files:?}");
        let expected =
            std::fs::read_to_string(project.dir.join("schema/witchcraft/expected_catalog.txt"))
                .unwrap();
        assert!(
            expected.contains("nickname"),
            "snapshot did not record 0014"
        );
        let mut c = db.conn().await;
        assert_eq!(
            scalar_i64(&mut c, "SELECT count(*) FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'nickname'").await,
            0,
            "the down did not run"
        );
        assert_at_latest(&mut c, "witchcraft").await;
        assert!(out.stdout.contains("0014"), "{}", out.stdout);
    }
    if text.contains("migrate bootstrap") {
        let mut c = db.conn().await;
        assert_at_latest(&mut c, "witchcraft").await;
    }
    if text.contains("migrate completions bash > migrate.bash") {
        let script = std::fs::read_to_string(project.dir.join("migrate.bash")).unwrap();
        assert!(script.contains("_migrate"), "{script}");
        assert!(
            out.stdout.contains("SUBCOMMANDS"),
            "the man page was not shown"
        );
    }
}

/// The CI job as a list of `run:` scripts (with `if:` conditions ignored: the job is run as
/// on a push to main) and its environment.
struct Job {
    env: BTreeMap<String, String>,
    matrix: Vec<BTreeMap<String, String>>,
    runs: Vec<(String, String)>,
}

fn job(yaml: &str) -> Job {
    let lines: Vec<&str> = yaml.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut job = Job {
        env: BTreeMap::new(),
        matrix: Vec::new(),
        runs: Vec::new(),
    };
    let mut name = String::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let t = line.trim();
        if t == "env:" && indent(line) == 4 {
            i += 1;
            while i < lines.len() && indent(lines[i]) == 6 {
                let (k, v) = lines[i].trim().split_once(": ").unwrap();
                job.env
                    .insert(k.to_string(), v.trim_matches('"').to_string());
                i += 1;
            }
            continue;
        }
        if let Some(set) = t.strip_prefix("- set: ") {
            let mut entry = BTreeMap::from([("set".to_string(), set.to_string())]);
            let (k, v) = lines[i + 1].trim().split_once(": ").unwrap();
            entry.insert(k.to_string(), v.to_string());
            job.matrix.push(entry);
        }
        if let Some(n) = t.strip_prefix("- name: ") {
            name = n.to_string();
        }
        if let Some(run) = t.strip_prefix("run: ") {
            let script = if run == "|" {
                let mut body = Vec::new();
                let at = indent(line);
                while i + 1 < lines.len() && indent(lines[i + 1]) > at {
                    i += 1;
                    body.push(lines[i].trim());
                }
                body.join("\n")
            } else {
                run.to_string()
            };
            job.runs.push((name.clone(), script));
        }
        i += 1;
    }
    job
}

/// Runs the job's steps for one matrix entry; returns each step's name and output.
fn run_job(
    job: &Job,
    entry: &BTreeMap<String, String>,
    service: &str,
    staging: &str,
    only: Option<&str>,
) -> Vec<(String, Output)> {
    let project = Project::new();
    let github_path = project.dir.join("target/github_path");
    std::fs::write(&github_path, "").unwrap();
    let mut results = Vec::new();
    for (name, script) in &job.runs {
        // with `only`, that step after the build (which puts migrate on the PATH)
        if only.is_some_and(|o| o != name) && !script.contains("GITHUB_PATH") {
            continue;
        }
        // PATH as GitHub builds it: the runner's, then what steps appended to GITHUB_PATH
        let added = std::fs::read_to_string(&github_path).unwrap();
        let first = added.lines().next().map(PathBuf::from);
        let mut cmd = project.bash(script, first.as_deref());
        cmd.env("GITHUB_PATH", &github_path);
        for (k, v) in &job.env {
            let value = match v.as_str() {
                "${{ matrix.set }}" => entry["set"].clone(),
                "${{ secrets[matrix.staging] }}" => staging.to_string(),
                v if v.starts_with("postgres://") => service.to_string(),
                v => {
                    assert!(
                        !v.contains("${{"),
                        "an expression the test does not know: {v}"
                    );
                    v.to_string()
                }
            };
            cmd.env(k, value);
        }
        let out = shell_out(&mut cmd);
        results.push((name.clone(), out));
        if results.last().unwrap().1.code != 0 {
            break;
        }
    }
    if only.is_none() {
        assert_ci_runs(&project.recorded());
    }
    results
}

/// The README shows the example job verbatim; its steps pass for both sets on a fresh
/// service database and an up-to-date staging database, and its drift step fails when
/// staging has drifted.
#[tokio::test]
async fn the_ci_example_job_runs_and_fails_on_drift() {
    let file = std::fs::read_to_string(crate_root().join("examples/github-actions.yml")).unwrap();
    let shown = readme()
        .split_once("<!-- examples/github-actions.yml -->\n```yaml\n")
        .and_then(|(_, rest)| rest.split_once("```\n<!-- end of examples/github-actions.yml -->"))
        .map(|(yaml, _)| yaml.to_string())
        .expect("the README shows the example job between its markers");
    assert_eq!(
        shown, file,
        "the README's job differs from examples/github-actions.yml"
    );
    assert!(file.contains("image: postgres:17"));
    let job = job(&file);
    assert_eq!(job.matrix.len(), 2, "{:?}", job.matrix);
    assert!(job.runs.len() >= 5, "{:?}", job.runs);
    for verb in ["migrate up", "migrate verify", "migrate diff"] {
        assert!(
            job.runs.iter().any(|(_, s)| s.contains(verb)),
            "the job never runs {verb}"
        );
    }
    for entry in &job.matrix {
        let set = &entry["set"];
        let service = TestDb::new().await;
        let (staging, mut staging_conn) = migrated(set).await;
        let results = run_job(&job, entry, &service.url, &staging.url, None);
        for (name, out) in &results {
            assert_eq!(
                out.code, 0,
                "{set}: step `{name}`:\n{}{}",
                out.stdout, out.stderr
            );
        }
        assert_eq!(results.len(), job.runs.len(), "{set}: a step did not run");
        assert_at_latest(&mut service.conn().await, set).await;
        // drifted staging: the drift step fails with diff's 1, naming the object
        sqlx::raw_sql("ALTER TABLE users ADD COLUMN drifted_by_hand text")
            .execute(&mut staging_conn)
            .await
            .unwrap();
        let drift_step = "Staging has not drifted from the committed schema";
        let results = run_job(&job, entry, &service.url, &staging.url, Some(drift_step));
        let (name, out) = results.last().unwrap();
        assert_eq!(name, drift_step, "no step named `{drift_step}`");
        assert_eq!(out.code, 1, "{set}: {}{}", out.stdout, out.stderr);
        assert!(out.stdout.contains("drifted_by_hand"), "{}", out.stdout);
    }
}
