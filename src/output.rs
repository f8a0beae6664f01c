//! Writing to standard output and standard error without panicking.
//!
//! `println!` panics when the reader of standard output has gone (`migrate up --dry-run |
//! head -1`). The verbs write through [`outln!`] and [`out!`] instead, which return the
//! `io::Error`; `main` treats a broken pipe as success, as ripgrep does. Progress on standard
//! error goes through [`errln!`], which drops write errors: progress is not worth a failure.

/// `writeln!` to standard output; `?` on the error.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)?;
    }};
}

/// `write!` to standard output; `?` on the error.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout().lock(), $($arg)*)?;
    }};
}

/// `writeln!` to standard output, ignoring errors (the last words of a failing run).
macro_rules! outln_ignore {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// `writeln!` to standard error, ignoring errors.
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

/// `write!` to standard error and flush, ignoring errors (a question awaiting an answer).
macro_rules! err {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut e = std::io::stderr().lock();
        let _ = write!(e, $($arg)*);
        let _ = e.flush();
    }};
}
