//! Properties of the parsers, checked on generated input (proptest): the statement
//! splitter, the migration-file loader, the configuration parser and durations. None may
//! panic on any input, every error must be one line, and the splitter must give back
//! exactly the statements a file was made of, whatever quotes, dollar quotes, escapes and
//! comments hold semicolons.
//!
//! In the suite each property runs `PROPTEST_CASES` cases (proptest's default, 256);
//! `.ci/fuzz` runs them for a bounded time with many more. Inputs that once failed are kept
//! as regression tests at the end of this file.

use migrate::config::{format_duration, parse_duration, Config};
use migrate::sets::{load_migrations, split::split};
use proptest::prelude::*;

/// A piece of SQL that may hold semicolons only where they do not end a statement.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_][a-z0-9_]{0,8}",
        "[0-9]{1,4}",
        "[,.=<>+*-]",
        // Parentheses, balanced, around a string that holds what would end a statement.
        "[a-z ;)(]{0,8}".prop_map(|s| format!("(x, '{s}')")),
        // A string: quotes doubled inside.
        "[a-z ;\"$\n]{0,10}".prop_map(|s| format!("'{s}'")),
        "([a-z ;$]|'')*".prop_map(|s| format!("'{s}'")),
        // An escape string: backslash-escaped and doubled quotes.
        "([a-z ;]|\\\\'|'')*".prop_map(|s| format!("E'{s}'")),
        // A dollar-quoted body, tagged or not.
        ("[a-z]{0,3}", "[a-z ;'\"\n]{0,12}")
            .prop_map(|(tag, body)| format!("${tag}${body}${tag}$")),
        // A quoted identifier.
        "([a-z ;'$]|\"\")*".prop_map(|s| format!("\"x{s}\"")),
        // Comments: to the end of the line, and block comments that nest.
        "[a-z ;'\"$]{0,10}".prop_map(|s| format!("-- {s}\n")),
        ("[a-z ;'\"$]{0,6}", "[a-z ;'\"$]{0,6}").prop_map(|(a, b)| format!("/* {a} /* {b} */ */")),
    ]
}

/// A statement: starts and ends with a word, so its text is known exactly.
fn statement() -> impl Strategy<Value = String> {
    (
        "[a-z][a-z0-9_]{0,6}",
        prop::collection::vec(piece(), 0..8),
        "[a-z][a-z0-9_]{0,6}",
    )
        .prop_map(|(first, middle, last)| {
            let mut s = first;
            for p in middle {
                s.push(' ');
                s.push_str(&p);
            }
            s.push(' ');
            s.push_str(&last);
            s
        })
}

/// Anything: random bytes as text, weighted towards the characters the lexer cares about.
fn soup() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[-a-zA-Z0-9 ;'\"$\\\\/*\nE\t()]{0,80}",]
}

proptest! {
    #[test]
    fn the_splitter_gives_back_the_statements_a_file_was_made_of(
        statements in prop::collection::vec(statement(), 1..6),
        trailing in any::<bool>(),
    ) {
        let mut file = statements.join(";\n");
        if trailing {
            file.push(';');
        }
        let split = split(&file).map_err(|e| TestCaseError::fail(format!("{e} in {file:?}")))?;
        let texts: Vec<&str> = split.iter().map(|s| s.text.trim_end()).collect();
        prop_assert_eq!(texts, statements.iter().map(String::as_str).collect::<Vec<_>>(), "{:?}", file);
    }

    #[test]
    fn the_splitter_never_panics_and_its_statements_lie_in_order_inside_the_file(src in soup()) {
        if let Ok(statements) = split(&src) {
            let mut end = 0;
            for s in statements {
                prop_assert!(s.offset >= end, "{:?}", src);
                prop_assert_eq!(&src[s.offset..s.offset + s.text.len()], s.text);
                end = s.offset + s.text.len();
            }
        }
    }

    #[test]
    fn the_loader_never_panics_and_its_errors_are_one_line(
        up in soup(),
        down in soup(),
        name in "[0-9a-zA-Z_.]{1,24}",
    ) {
        let files = vec![
            (format!("s/{name}.up.sql"), up.clone()),
            (format!("s/{name}.down.sql"), down),
            ("s/0001_a.up.sql".to_string(), up),
        ];
        if let Err(e) = load_migrations(&files) {
            prop_assert!(!e.to_string().contains('\n'), "{}", e);
        }
    }

    #[test]
    fn the_configuration_parser_never_panics_and_its_errors_are_one_line(text in config_text()) {
        if let Err(e) = Config::parse(&text, "migrations.toml", None) {
            prop_assert!(!e.to_string().contains('\n'), "{}", e);
        }
    }

    #[test]
    fn durations_parse_what_they_print(ms in 0u64..10_000_000) {
        let d = std::time::Duration::from_millis(ms);
        prop_assert_eq!(parse_duration(&format_duration(d)), Some(d));
    }

    #[test]
    fn durations_never_panic(text in soup()) {
        let _ = parse_duration(&text);
    }
}

/// Configurations near the real shape: known and unknown keys, values of every type.
fn config_text() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("name".to_string()),
        Just("dir".to_string()),
        Just("schema".to_string()),
        Just("lock_timeout".to_string()),
        Just("maintenance".to_string()),
        "[a-z_]{1,8}",
    ];
    let value = prop_oneof![
        "[a-z_0-9 ;'$/.]{0,12}".prop_map(|s| format!("{s:?}")),
        any::<i64>().prop_map(|n| n.to_string()),
        Just("true".to_string()),
        Just("[\"SELECT 1\", \"DROP TABLE x\"]".to_string()),
        Just("{ a = 1 }".to_string()),
        soup(),
    ];
    let line = (key, value).prop_map(|(k, v)| format!("{k} = {v}"));
    let block = prop::collection::vec(line, 0..5)
        .prop_map(|lines| format!("[[set]]\n{}\n", lines.join("\n")));
    prop_oneof![
        prop::collection::vec(block, 0..3).prop_map(|b| b.concat()),
        soup(),
    ]
}

// Regression tests: inputs the properties and the catalogue once failed on.

#[test]
fn a_toml_error_of_several_lines_is_shown_on_one() {
    let e = Config::parse("[[set]]\nname = \n", "migrations.toml", None).unwrap_err();
    let text = e.to_string();
    assert!(!text.contains('\n'), "{text}");
    assert!(text.starts_with("migrations.toml:2:8: "), "{text}");
}

#[test]
fn a_nul_byte_is_refused_at_load_with_its_line_and_column() {
    let files = vec![
        (
            "s/0001_a.up.sql".to_string(),
            "SELECT 1;\nSELECT 'a\0';\n".to_string(),
        ),
        ("s/0001_a.down.sql".to_string(), "SELECT 1;\n".to_string()),
    ];
    let e = load_migrations(&files).unwrap_err().to_string();
    assert!(e.starts_with("s/0001_a.up.sql:2:10: a NUL byte"), "{e}");
}
