//! The canonical text form of a catalog: objects sorted by key, each a key line followed by
//! its body indented two spaces, separated by blank lines. What `migrate snapshot` commits
//! and what `diff` shows. The dependency graph follows under the line `dependencies`, one
//! edge per line (`  view v -> table t`: `view v` needs `table t`), so a catalog read back
//! from text orders a repair as one read from a database does.

use super::model::Kind;
use super::{Catalog, CatalogObject};

/// Renders a catalog as canonical text.
pub fn render(catalog: &Catalog) -> String {
    let mut out = String::new();
    for (key, object) in &catalog.objects {
        out.push_str(key);
        out.push('\n');
        out.push_str(&render_body(&object.body));
        out.push('\n');
    }
    if catalog.dependencies.values().any(|needs| !needs.is_empty()) {
        out.push_str(DEPENDENCIES);
        out.push('\n');
        for (key, needs) in &catalog.dependencies {
            for need in needs {
                out.push_str(&format!("  {key}{EDGE}{need}\n"));
            }
        }
        out.push('\n');
    }
    out
}

/// The line the dependency graph follows (no key of an object is this: keys start with
/// their kind).
const DEPENDENCIES: &str = "dependencies";
/// Between an object and what it needs, on a line of the graph.
const EDGE: &str = " -> ";

/// A body as it appears under its key: every line indented two spaces.
pub fn render_body(body: &str) -> String {
    let mut out = String::new();
    if body.is_empty() {
        return out;
    }
    for line in body.split('\n') {
        out.push_str("  ");
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Reads canonical text back; `None` with the line number of anything malformed.
pub fn parse(text: &str) -> Result<Catalog, usize> {
    let mut catalog = Catalog::default();
    let mut current: Option<(String, Vec<&str>)> = None;
    let finish = |current: &mut Option<(String, Vec<&str>)>, catalog: &mut Catalog| {
        if let Some((key, lines)) = current.take() {
            if key == DEPENDENCIES {
                for line in lines {
                    let (from, to) = line.split_once(EDGE).unwrap_or((line, ""));
                    catalog
                        .dependencies
                        .entry(from.to_string())
                        .or_default()
                        .insert(to.to_string());
                }
                return;
            }
            if let Some((kind, _)) = Kind::of_key(&key) {
                let object = CatalogObject::from_body(kind, None, &lines.join("\n"));
                catalog.objects.insert(key, object);
            }
        }
    };
    for (i, line) in text.lines().enumerate() {
        if line.is_empty() {
            finish(&mut current, &mut catalog);
        } else if let Some(body_line) = line.strip_prefix("  ") {
            match current.as_mut() {
                Some((_, lines)) => lines.push(body_line),
                None => return Err(i + 1),
            }
        } else if line == DEPENDENCIES || Kind::of_key(line).is_some() {
            finish(&mut current, &mut catalog);
            current = Some((line.to_string(), Vec::new()));
        } else {
            // a key names its kind first
            return Err(i + 1);
        }
    }
    finish(&mut current, &mut catalog);
    Ok(catalog)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips() {
        let mut c = Catalog::default();
        for (k, b) in [
            ("table users", "table\nrow level security enabled"),
            ("schema x", ""),
            (
                "function f()",
                "CREATE FUNCTION f()\n\n  body with a blank line above\n",
            ),
        ] {
            let kind = Kind::of_key(k).unwrap().0;
            c.objects
                .insert(k.into(), CatalogObject::from_body(kind, None, b));
        }
        c.dependencies
            .entry("view v".into())
            .or_default()
            .extend(["table users".to_string(), "function f()".to_string()]);
        let text = render(&c);
        assert!(
            text.ends_with("dependencies\n  view v -> function f()\n  view v -> table users\n\n")
        );
        assert_eq!(parse(&text).unwrap(), c);
        assert_eq!(parse(&text).unwrap().dependencies, c.dependencies);
        assert_eq!(render(&parse(&text).unwrap()), text);
        assert_eq!(parse("  orphan body line\n"), Err(1));
        assert_eq!(parse("table t\n\nwidget w\n").map(|_| ()), Err(3));
    }
}
