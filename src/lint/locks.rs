//! PostgreSQL's table-level lock modes, as `pg_locks` names them, ordered by strength, and
//! what each one blocks of an application's reads and writes (the conflict table of the
//! "Explicit Locking" chapter, the same in PostgreSQL 15 to 18).

use serde::Serialize;

/// A table-level lock mode, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LockMode {
    AccessShare,
    RowShare,
    RowExclusive,
    ShareUpdateExclusive,
    Share,
    ShareRowExclusive,
    Exclusive,
    AccessExclusive,
}

/// What a lock held on a table stops the application from doing while it is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Blocks {
    /// Plain reads and writes go on (only other schema changes, VACUUM and the like wait).
    Nothing,
    /// INSERT, UPDATE, DELETE (and SELECT ... FOR UPDATE) wait; plain reads go on.
    Writes,
    /// Every read and write waits, and so does the planning of any query on the table.
    ReadsAndWrites,
}

impl LockMode {
    /// The mode `pg_locks.mode` names, e.g. `AccessExclusiveLock`.
    pub fn from_pg(mode: &str) -> Option<LockMode> {
        Some(match mode {
            "AccessShareLock" => LockMode::AccessShare,
            "RowShareLock" => LockMode::RowShare,
            "RowExclusiveLock" => LockMode::RowExclusive,
            "ShareUpdateExclusiveLock" => LockMode::ShareUpdateExclusive,
            "ShareLock" => LockMode::Share,
            "ShareRowExclusiveLock" => LockMode::ShareRowExclusive,
            "ExclusiveLock" => LockMode::Exclusive,
            "AccessExclusiveLock" => LockMode::AccessExclusive,
            _ => return None,
        })
    }

    /// The mode as `LOCK TABLE` and the documentation write it: `ACCESS EXCLUSIVE`.
    pub fn name(self) -> &'static str {
        match self {
            LockMode::AccessShare => "ACCESS SHARE",
            LockMode::RowShare => "ROW SHARE",
            LockMode::RowExclusive => "ROW EXCLUSIVE",
            LockMode::ShareUpdateExclusive => "SHARE UPDATE EXCLUSIVE",
            LockMode::Share => "SHARE",
            LockMode::ShareRowExclusive => "SHARE ROW EXCLUSIVE",
            LockMode::Exclusive => "EXCLUSIVE",
            LockMode::AccessExclusive => "ACCESS EXCLUSIVE",
        }
    }

    /// What the mode blocks of the application: reads take ACCESS SHARE, writes ROW
    /// EXCLUSIVE, so a mode blocks writes when it conflicts with ROW EXCLUSIVE (SHARE and
    /// up) and reads when it conflicts with ACCESS SHARE (ACCESS EXCLUSIVE alone).
    pub fn blocks(self) -> Blocks {
        match self {
            LockMode::AccessExclusive => Blocks::ReadsAndWrites,
            LockMode::Share | LockMode::ShareRowExclusive | LockMode::Exclusive => Blocks::Writes,
            _ => Blocks::Nothing,
        }
    }
}

impl Blocks {
    /// In words, for reports.
    pub fn words(self) -> &'static str {
        match self {
            Blocks::Nothing => "blocks neither reads nor writes",
            Blocks::Writes => "blocks writes",
            Blocks::ReadsAndWrites => "blocks reads and writes",
        }
    }
}

impl std::fmt::Display for LockMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Serialized as the documentation names it: `"ACCESS EXCLUSIVE"`.
impl Serialize for LockMode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_mode_blocks_what_the_conflict_table_says() {
        for (pg, name, blocks) in [
            ("AccessShareLock", "ACCESS SHARE", Blocks::Nothing),
            ("RowShareLock", "ROW SHARE", Blocks::Nothing),
            ("RowExclusiveLock", "ROW EXCLUSIVE", Blocks::Nothing),
            (
                "ShareUpdateExclusiveLock",
                "SHARE UPDATE EXCLUSIVE",
                Blocks::Nothing,
            ),
            ("ShareLock", "SHARE", Blocks::Writes),
            (
                "ShareRowExclusiveLock",
                "SHARE ROW EXCLUSIVE",
                Blocks::Writes,
            ),
            ("ExclusiveLock", "EXCLUSIVE", Blocks::Writes),
            (
                "AccessExclusiveLock",
                "ACCESS EXCLUSIVE",
                Blocks::ReadsAndWrites,
            ),
        ] {
            let mode = LockMode::from_pg(pg).unwrap();
            assert_eq!((mode.name(), mode.blocks()), (name, blocks));
        }
        assert_eq!(LockMode::from_pg("SIReadLock"), None);
        assert!(LockMode::AccessExclusive > LockMode::Share);
    }
}
