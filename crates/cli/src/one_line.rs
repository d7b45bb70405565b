//! An error on one line, as the commands print it: its message, then each cause after a
//! colon (what anyhow's `{:#}` prints), without a cause whose text is already there: some
//! errors show their cause in their own message and also return it as their `source()`
//! (the store's `DatabaseError`, the client's `Error::Http`), which `{:#}` would print twice.

use std::error::Error;

/// `error` and the causes its message does not already include, joined by `": "`.
pub fn one_line(error: &(dyn Error + 'static)) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.contains(&text) {
            line = format!("{line}: {text}");
        }
        source = cause.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[derive(Debug)]
    struct ShowsItsCause(std::io::Error);

    impl std::fmt::Display for ShowsItsCause {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "database error: cannot read: {}", self.0)
        }
    }

    impl Error for ShowsItsCause {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn contexts_and_causes_follow_the_message_once_each() {
        let cause = std::io::Error::other("disk on fire");
        let error = Err::<(), _>(ShowsItsCause(cause))
            .context("cannot open the database")
            .unwrap_err();
        assert_eq!(
            one_line(error.as_ref()),
            "cannot open the database: database error: cannot read: disk on fire"
        );
        let plain = Err::<(), _>(std::io::Error::other("refused"))
            .context("cannot listen on 127.0.0.1:1")
            .unwrap_err();
        assert_eq!(one_line(plain.as_ref()), format!("{plain:#}"));
    }
}
