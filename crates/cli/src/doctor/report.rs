//! What `mcp-oauth doctor` found: one [`Step`] per check, each passed, failed, warned about or
//! skipped, with the reason, the fix, and which of the guide's five common problems it is;
//! rendered as text for a person (one line per step, the fix indented) or as JSON.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::{Value, json};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The check passed.
    Pass,
    /// Something works, but not as every client expects.
    Warn,
    /// Clients fail here.
    Fail,
    /// Not checked (a flag not given, or an earlier step that failed).
    Skip,
}

impl Outcome {
    fn label(self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::Warn => "WARN",
            Self::Fail => "FAIL",
            Self::Skip => "SKIP",
        }
    }
}

/// The five common problems of the original guide's troubleshooting section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// 1. A 401 without `WWW-Authenticate` (clients cannot discover the authorization server).
    MissingChallenge,
    /// 2. Token validation failures: issuer, audience (resource), JWKS.
    TokenValidation,
    /// 3. CORS for browser clients.
    Cors,
    /// 4. A failed CloudFormation deployment.
    Deployment,
    /// 5. Registration errors.
    Registration,
}

impl Problem {
    /// The problem's number in the guide.
    pub fn number(self) -> u8 {
        match self {
            Self::MissingChallenge => 1,
            Self::TokenValidation => 2,
            Self::Cors => 3,
            Self::Deployment => 4,
            Self::Registration => 5,
        }
    }

    /// The problem's name in the guide.
    pub fn name(self) -> &'static str {
        match self {
            Self::MissingChallenge => "401 without WWW-Authenticate",
            Self::TokenValidation => "token validation (issuer, audience, JWKS)",
            Self::Cors => "CORS for browser clients",
            Self::Deployment => "CloudFormation deployment",
            Self::Registration => "client registration",
        }
    }
}

/// One check: what was checked, how it came out, why, and what to do about it.
#[derive(Debug, Clone)]
pub struct Step {
    /// A stable machine name of the kind of check (`challenge`, `resource-metadata`, …).
    pub id: &'static str,
    /// What was checked, for a person (names the URL when there are several).
    pub title: String,
    /// How it came out.
    pub outcome: Outcome,
    /// What was seen: the reason for the outcome.
    pub detail: String,
    /// What to change, when the outcome is not a pass.
    pub fix: Option<String>,
    /// Which of the guide's common problems this is, if one.
    pub problem: Option<Problem>,
}

impl Step {
    /// A step with `outcome`, no fix and no problem yet.
    pub fn new(
        id: &'static str,
        title: impl Into<String>,
        outcome: Outcome,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            id,
            title: title.into(),
            outcome,
            detail: detail.into(),
            fix: None,
            problem: None,
        }
    }

    /// A passed step.
    pub fn pass(id: &'static str, title: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(id, title, Outcome::Pass, detail)
    }

    /// A failed step.
    pub fn fail(id: &'static str, title: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(id, title, Outcome::Fail, detail)
    }

    /// A step with a warning.
    pub fn warn(id: &'static str, title: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(id, title, Outcome::Warn, detail)
    }

    /// A skipped step.
    pub fn skip(id: &'static str, title: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(id, title, Outcome::Skip, detail)
    }

    /// Sets the fix.
    pub fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }

    /// Sets the common problem.
    pub fn problem(mut self, problem: Problem) -> Self {
        self.problem = Some(problem);
        self
    }
}

/// Every step of one run, in the order they were checked.
#[derive(Debug, Default)]
pub struct Report {
    steps: Vec<Step>,
}

impl Report {
    /// Adds a step.
    pub fn push(&mut self, step: Step) {
        self.steps.push(step);
    }

    /// Whether any step failed.
    pub fn failed(&self) -> bool {
        self.count(Outcome::Fail) > 0
    }

    fn count(&self, outcome: Outcome) -> usize {
        self.steps.iter().filter(|s| s.outcome == outcome).count()
    }

    fn summary(&self) -> String {
        format!(
            "{} passed, {} warnings, {} failed, {} skipped",
            self.count(Outcome::Pass),
            self.count(Outcome::Warn),
            self.count(Outcome::Fail),
            self.count(Outcome::Skip)
        )
    }

    /// The text for a person: one line per step (`PASS title: detail`), the fix and the
    /// common problem indented below it, then a summary.
    pub fn to_text(&self, url: &str) -> String {
        let mut text = format!("mcp-oauth doctor {url}\n\n");
        for step in &self.steps {
            let _ = writeln!(
                text,
                "{}  {}: {}",
                step.outcome.label(),
                step.title,
                step.detail
            );
            if let Some(fix) = &step.fix {
                let _ = writeln!(text, "      fix: {fix}");
            }
            if let Some(problem) = step.problem
                && step.outcome != Outcome::Pass
            {
                let _ = writeln!(
                    text,
                    "      common problem {}: {}",
                    problem.number(),
                    problem.name()
                );
            }
        }
        let _ = writeln!(text, "\n{}", self.summary());
        text
    }

    /// The report as JSON: `url`, `ok`, `summary` (counts) and `steps` (each with `id`,
    /// `title`, `status`, `detail`, and `fix` and `problem` when set).
    pub fn to_json(&self, url: &str) -> Value {
        let steps: Vec<Value> = self
            .steps
            .iter()
            .map(|step| {
                let mut value = json!({
                    "id": step.id,
                    "title": step.title,
                    "status": step.outcome,
                    "detail": step.detail,
                });
                if let Some(fix) = &step.fix {
                    value["fix"] = json!(fix);
                }
                if let Some(problem) = step.problem {
                    value["problem"] = json!({"number": problem.number(), "name": problem.name()});
                }
                value
            })
            .collect();
        json!({
            "url": url,
            "ok": !self.failed(),
            "summary": {
                "passed": self.count(Outcome::Pass),
                "warnings": self.count(Outcome::Warn),
                "failed": self.count(Outcome::Fail),
                "skipped": self.count(Outcome::Skip),
            },
            "steps": steps,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_puts_the_fix_and_problem_under_a_failed_step_only() {
        let mut report = Report::default();
        report.push(
            Step::pass("challenge", "401 challenge", "fine").problem(Problem::MissingChallenge),
        );
        report.push(
            Step::fail("jwks", "JWKS", "no keys")
                .fix("publish a key")
                .problem(Problem::TokenValidation),
        );
        let text = report.to_text("http://x/mcp");
        assert!(
            text.contains("PASS  401 challenge: fine\nFAIL  JWKS: no keys\n"),
            "{text}"
        );
        assert!(
            text.contains("      fix: publish a key\n      common problem 2:"),
            "{text}"
        );
        assert!(
            text.ends_with("1 passed, 0 warnings, 1 failed, 0 skipped\n"),
            "{text}"
        );
        assert!(report.failed());
        let json = report.to_json("http://x/mcp");
        assert_eq!(json["ok"], false);
        assert_eq!(json["steps"][1]["status"], "fail");
        assert_eq!(json["steps"][1]["problem"]["number"], 2);
        assert!(json["steps"][0].get("fix").is_none());
    }
}
