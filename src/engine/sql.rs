//! SQL text the engine writes itself: string literals for the statements it sends with the
//! simple protocol (one round trip, where a bound parameter costs two: the driver describes
//! an unnamed statement before it binds it), used by the migration runner, the locks and the
//! history alike.

/// A string literal, read the same whatever `standard_conforming_strings` says: an
/// escape string (`E'...'`) when the value holds a backslash.
pub(crate) fn literal(value: &str) -> String {
    if value.contains('\\') {
        format!("E'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
    } else {
        format!("'{}'", value.replace('\'', "''"))
    }
}
