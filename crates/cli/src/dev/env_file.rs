//! A command's flags from a `.env` file, leaving the process environment alone: each variable
//! the command reads (the `env = …` of one of its flags) is given as that flag, so the file's
//! value wins; what the file leaves out still comes from the environment, then the defaults.
//! Errors name the file and the variable, never a value that may be secret.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use clap::error::ErrorKind;
use clap::{Arg, ArgAction, Args, ColorChoice, Command, FromArgMatches};

/// The variables of one `.env` file (the first of a repeated name wins, as when the file is
/// loaded into the environment).
#[derive(Debug)]
pub struct EnvFile {
    path: PathBuf,
    vars: BTreeMap<String, String>,
}

/// A command's flags read from a file, and the file's variables no flag of it reads.
#[derive(Debug)]
pub struct Parsed<T> {
    /// The flags.
    pub args: T,
    /// Variables of the file the command has no flag for.
    pub unread: Vec<String>,
}

impl EnvFile {
    /// Reads the dotenv file at `path`; `missing` says what to do when there is none.
    pub fn read(path: &Path, missing: &str) -> anyhow::Result<Self> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(anyhow!("{} is missing: {missing}", path.display()));
            }
            Err(error) => {
                return Err(error).with_context(|| format!("cannot read {}", path.display()));
            }
        };
        let mut vars = BTreeMap::new();
        for item in dotenvy::from_read_iter(text.as_bytes()) {
            match item {
                Ok((key, value)) => {
                    vars.entry(key).or_insert(value);
                }
                Err(dotenvy::Error::LineParse(line, _)) => {
                    return Err(anyhow!(
                        "{}: {} is not `NAME=value` (dotenv syntax); fix or remove it",
                        path.display(),
                        describe_line(&text, &line)
                    ));
                }
                Err(error) => {
                    return Err(anyhow!(error))
                        .with_context(|| format!("cannot read {}", path.display()));
                }
            }
        }
        Ok(Self {
            path: path.to_owned(),
            vars,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The flags of `mcp-oauth <command>` (`T`) from this file, with `defaults` (variable
    /// names and values) for what the file leaves out, then the environment.
    pub fn parse<T: Args + FromArgMatches>(
        &self,
        command: &'static str,
        defaults: &[(&str, String)],
    ) -> anyhow::Result<Parsed<T>> {
        let clap_command = T::augment_args(Command::new(command))
            .no_binary_name(true)
            .color(ColorChoice::Never);
        let mut argv = Vec::new();
        let mut unread = Vec::new();
        let given = defaults
            .iter()
            .filter(|(name, _)| !self.vars.contains_key(*name))
            .map(|(name, value)| (*name, value.as_str()));
        let vars = self
            .vars
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()));
        for (name, value) in vars.chain(given) {
            match flag_reading(&clap_command, name) {
                Some((long, action)) => argv.extend(as_flag(long, action, value)),
                None => unread.push(name.to_owned()),
            }
        }
        let matches = clap_command
            .clone()
            .try_get_matches_from(argv)
            .map_err(|error| self.describe(&clap_command, &error))?;
        let args =
            T::from_arg_matches(&matches).map_err(|error| self.describe(&clap_command, &error))?;
        Ok(Parsed { args, unread })
    }

    /// Clap's error about the flags made from this file, in terms of the file's variables.
    fn describe(&self, command: &Command, error: &clap::Error) -> anyhow::Error {
        let rendered = error.render().to_string();
        let mut lines = rendered
            .lines()
            .take_while(|line| !line.trim().is_empty())
            .map(|line| as_variables(command, line.trim()));
        let first = lines.next().unwrap_or_default();
        let first = first.strip_prefix("error: ").unwrap_or(&first);
        let message = if error.kind() == ErrorKind::MissingRequiredArgument {
            // One missing flag (or group of flags, one of which is needed) per line.
            let missing: Vec<String> = lines
                .map(|line| {
                    line.trim_start_matches('<')
                        .trim_end_matches('>')
                        .replace('|', " or ")
                })
                .collect();
            format!("lacks {}", missing.join(", "))
        } else {
            std::iter::once(first.to_owned())
                .chain(lines)
                .collect::<Vec<_>>()
                .join(" ")
        };
        let separator = if message.starts_with("lacks") {
            " "
        } else {
            ": "
        };
        anyhow!(
            "{}{separator}{message} (the variables of `mcp-oauth {}`: see its --help)",
            self.path.display(),
            command.get_name()
        )
    }
}

/// `text` with each flag of `command` (`--long` or `--long <VALUE>`) replaced by the
/// environment variable it reads.
fn as_variables(command: &Command, text: &str) -> String {
    let mut text = text.to_owned();
    let mut flags: Vec<&Arg> = command
        .get_arguments()
        .filter(|arg| arg.get_long().is_some() && arg.get_env().is_some())
        .collect();
    // `--scope-read` before `--scope`, so that a name is never cut from a longer one.
    flags.sort_by_key(|arg| std::cmp::Reverse(arg.get_long().map_or(0, str::len)));
    for arg in flags {
        let (Some(long), Some(env)) = (arg.get_long(), arg.get_env()) else {
            continue;
        };
        let env = env.to_string_lossy();
        for value_name in arg.get_value_names().unwrap_or_default() {
            text = text.replace(&format!("--{long} <{value_name}>"), &env);
        }
        text = text.replace(&format!("--{long}"), &env);
    }
    text
}

/// The long name and action of the flag of `command` that reads the variable `name`.
fn flag_reading<'a>(command: &'a Command, name: &str) -> Option<(&'a str, &'a ArgAction)> {
    command
        .get_arguments()
        .find(|arg| arg.get_env() == Some(OsStr::new(name)))
        .and_then(|arg| Some((arg.get_long()?, arg.get_action())))
}

/// The command-line words that give `value` to the flag `--long`: `--long=value`, or for a
/// flag without a value `--long` when the value is not one clap reads as false.
fn as_flag(long: &str, action: &ArgAction, value: &str) -> Option<String> {
    if action.takes_values() {
        return Some(format!("--{long}={value}"));
    }
    let falsy = ["", "n", "no", "f", "false", "off", "0"];
    (!falsy.contains(&value.trim().to_ascii_lowercase().as_str())).then(|| format!("--{long}"))
}

/// The line dotenvy could not parse, named by its number and variable, never its value.
fn describe_line(text: &str, line: &str) -> String {
    let first = line.lines().next().unwrap_or_default().trim_end();
    let number = text
        .lines()
        .position(|candidate| candidate.trim_end() == first)
        .map(|index| format!("line {}", index + 1));
    let name = first
        .trim_start()
        .trim_start_matches("export ")
        .split(['=', ' ', '\t'])
        .next()
        .filter(|name| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
        .map(|name| format!("({name}=…)"));
    match (number, name) {
        (Some(number), Some(name)) => format!("{number} {name}"),
        (Some(number), None) => number,
        (None, Some(name)) => format!("the line {name}"),
        (None, None) => "a line".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Args, Debug)]
    struct Flags {
        #[arg(long, env = "ENV_FILE_TEST_BIND", default_value = "127.0.0.1:1")]
        bind: std::net::SocketAddr,
        #[arg(long, env = "ENV_FILE_TEST_NAME")]
        name: String,
        #[arg(long = "scope", env = "ENV_FILE_TEST_SCOPES", value_delimiter = ',')]
        scopes: Vec<String>,
        #[arg(long, env = "ENV_FILE_TEST_QUIET")]
        quiet: bool,
    }

    fn file(text: &str) -> (tempfile::TempDir, anyhow::Result<EnvFile>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        std::fs::write(&path, text).unwrap();
        let read = EnvFile::read(&path, "write it");
        (dir, read)
    }

    #[test]
    fn gives_each_variable_as_its_flag_and_keeps_the_first_of_a_repeated_one() {
        let (_dir, read) = file(
            "# a comment\nENV_FILE_TEST_NAME='a b'\nENV_FILE_TEST_NAME=second\n\
             ENV_FILE_TEST_SCOPES=r,w\nENV_FILE_TEST_QUIET=true\nOTHER=1\n",
        );
        let parsed: Parsed<Flags> = read.unwrap().parse("test", &[]).unwrap();
        assert_eq!(parsed.args.name, "a b");
        assert_eq!(parsed.args.scopes, ["r", "w"]);
        assert!(parsed.args.quiet);
        assert_eq!(parsed.args.bind.port(), 1);
        assert_eq!(parsed.unread, ["OTHER"]);
    }

    #[test]
    fn a_default_applies_only_where_the_file_is_silent() {
        let (_dir, read) = file("ENV_FILE_TEST_NAME=file\nENV_FILE_TEST_QUIET=off\n");
        let read = read.unwrap();
        let defaults = [
            ("ENV_FILE_TEST_NAME", "default".to_owned()),
            ("ENV_FILE_TEST_BIND", "127.0.0.1:2".to_owned()),
        ];
        let parsed: Parsed<Flags> = read.parse("test", &defaults).unwrap();
        assert_eq!(parsed.args.name, "file");
        assert_eq!(parsed.args.bind.port(), 2);
        assert!(!parsed.args.quiet);
    }

    #[test]
    fn errors_name_the_file_and_the_variable_but_not_the_value() {
        let (_dir, read) = file("ENV_FILE_TEST_NAME=n\nENV_FILE_TEST_BIND=nowhere\n");
        let error = read.unwrap().parse::<Flags>("test", &[]).unwrap_err();
        let message = error.to_string();
        assert!(message.contains(".env: "), "{message}");
        assert!(message.contains("ENV_FILE_TEST_BIND"), "{message}");
        assert!(!message.contains("--bind"), "{message}");

        let (_dir, read) = file("ENV_FILE_TEST_QUIET=1\n");
        let message = read
            .unwrap()
            .parse::<Flags>("test", &[])
            .unwrap_err()
            .to_string();
        assert!(message.contains("ENV_FILE_TEST_NAME"), "{message}");
        assert!(!message.contains("--name"), "{message}");

        let (_dir, read) = file("ENV_FILE_TEST_NAME=ok\nSECRET='unclosed s3cr3t\n");
        let message = read.unwrap_err().to_string();
        assert!(message.contains("line 2 (SECRET=…)"), "{message}");
        assert!(!message.contains("s3cr3t"), "{message}");

        let dir = tempfile::tempdir().unwrap();
        let missing = EnvFile::read(&dir.path().join(".env"), "run deploy").unwrap_err();
        assert!(missing.to_string().ends_with("is missing: run deploy"));
    }
}
