//! Webhook body templates: text with `{{placeholder}}` holes.

use super::controls::Event;
use crate::validation::FieldProblem;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The placeholders a body template may use.
pub const PLACEHOLDERS: [&str; 7] = ["event", "title", "message", "service", "team", "time", "delivery_id"];

/// What a template's placeholders are filled with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateContext {
    pub event: Event,
    pub title: String,
    pub message: String,
    pub service: String,
    /// The team's name, empty when the notification is not a team's.
    pub team: String,
    /// Rendered as RFC 3339.
    pub time: OffsetDateTime,
    pub delivery_id: String,
}

impl TemplateContext {
    fn get(&self, name: &str) -> Option<String> {
        Some(match name {
            "event" => self.event.as_str().to_owned(),
            "title" => self.title.clone(),
            "message" => self.message.clone(),
            "service" => self.service.clone(),
            "team" => self.team.clone(),
            "time" => self.time.format(&Rfc3339).unwrap_or_default(),
            "delivery_id" => self.delivery_id.clone(),
            _ => return None,
        })
    }
}

/// One piece of a template: literal text or a placeholder's name.
enum Piece<'a> {
    Text(&'a str),
    Hole(&'a str),
}

/// Splits a template into text and holes. `{{ name }}` may have spaces inside the braces.
fn pieces(template: &str) -> Result<Vec<Piece<'_>>, FieldProblem> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push(Piece::Text(&rest[..open]));
        let after = &rest[open + 2..];
        let close = after.find("}}").ok_or_else(|| {
            FieldProblem::new(
                "invalid_template",
                "has a `{{` without a closing `}}`; placeholders are written {{name}}",
            )
        })?;
        out.push(Piece::Hole(after[..close].trim()));
        rest = &after[close + 2..];
    }
    out.push(Piece::Text(rest));
    Ok(out)
}

/// Checks that every placeholder in `template` is one of [`PLACEHOLDERS`].
pub(crate) fn check_template(template: &str) -> Result<(), FieldProblem> {
    for piece in pieces(template)? {
        if let Piece::Hole(name) = piece {
            if !PLACEHOLDERS.contains(&name) {
                let known: Vec<String> = PLACEHOLDERS.iter().map(|p| format!("{{{{{p}}}}}")).collect();
                return Err(FieldProblem::new(
                    "unknown_placeholder",
                    format!("uses the unknown placeholder `{{{{{name}}}}}`; known ones are {}", known.join(" ")),
                ));
            }
        }
    }
    Ok(())
}

/// Fills the placeholders; each value is JSON-string-escaped when `json` is
/// set (so `"{{title}}"` stays a valid JSON string), inserted raw otherwise.
/// An unknown or unclosed placeholder is kept as written.
pub(crate) fn render(template: &str, ctx: &TemplateContext, json: bool) -> String {
    let Ok(pieces) = pieces(template) else {
        return template.to_owned();
    };
    let mut out = String::with_capacity(template.len());
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Hole(name) => match ctx.get(name) {
                Some(v) if json => {
                    let quoted = serde_json::to_string(&v).unwrap_or_default();
                    out.push_str(&quoted[1..quoted.len() - 1]);
                }
                Some(v) => out.push_str(&v),
                None => {
                    out.push_str("{{");
                    out.push_str(name);
                    out.push_str("}}");
                }
            },
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use time::macros::datetime;

    pub(crate) fn ctx() -> TemplateContext {
        TemplateContext {
            event: Event::Down,
            title: "API \"prod\" is down".into(),
            message: "line 1\nline 2 \\ done".into(),
            service: "api".into(),
            team: "Ops & SRE".into(),
            time: datetime!(2025-03-30 01:30 UTC),
            delivery_id: "dlv_123".into(),
        }
    }

    #[test]
    fn finds_unknown_and_unclosed_placeholders() {
        assert!(check_template("{{event}} {{ title }} {{message}}{{service}}{{team}}{{time}}{{delivery_id}}").is_ok());
        assert!(check_template("no placeholders at all, {\"a\":{\"b\":1}}").is_ok());
        let p = check_template("{\"x\": \"{{hostname}}\"}").unwrap_err();
        assert_eq!(p.code, "unknown_placeholder");
        assert!(p.message.contains("`{{hostname}}`") && p.message.contains("{{delivery_id}}"), "{}", p.message);
        assert_eq!(check_template("{{}}").unwrap_err().code, "unknown_placeholder");
        assert_eq!(check_template("{{event").unwrap_err().code, "invalid_template");
    }

    #[test]
    fn renders_with_and_without_json_escaping() {
        let t = r#"{"text":"{{title}}: {{message}}","event":"{{event}}","at":"{{ time }}","id":"{{delivery_id}}"}"#;
        let json = render(t, &ctx(), true);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["text"], "API \"prod\" is down: line 1\nline 2 \\ done");
        assert_eq!(v["event"], "down");
        assert_eq!(v["at"], "2025-03-30T01:30:00Z");
        assert_eq!(v["id"], "dlv_123");
        assert_eq!(render("team={{team}}&title={{title}}", &ctx(), false), "team=Ops & SRE&title=API \"prod\" is down");
        assert_eq!(render("{{nope}} {{service}}", &ctx(), false), "{{nope}} api");
        assert_eq!(render("{{service", &ctx(), false), "{{service");
    }
}
