//! The incoming-webhook URL shapes of Slack, Discord and Microsoft Teams.
//!
//! Each is first a [`WebhookUrl`] under production rules (https, public
//! host), then checked against its service's shape, so a URL pasted into the
//! wrong type is refused with a sentence naming the shape expected.

use super::webhook_url::WebhookUrl;
use super::ValueRules;
use crate::validation::FieldProblem;

const SLACK_SHAPE: &str = "https://hooks.slack.com/services/T…/B…/…";
const DISCORD_SHAPE: &str = "https://discord.com/api/webhooks/{id}/{token}";
const MSTEAMS_SHAPE: &str = "a Workflows (Power Automate) URL on *.logic.azure.com or *.api.powerplatform.com \
    whose path contains /workflows/ or /powerautomate/";

const DISCORD_HOSTS: [&str; 6] = [
    "discord.com",
    "ptb.discord.com",
    "canary.discord.com",
    "discordapp.com",
    "ptb.discordapp.com",
    "canary.discordapp.com",
];

fn base(raw: &str) -> Result<WebhookUrl, FieldProblem> {
    WebhookUrl::parse(raw, &ValueRules::default())
}

fn segments(url: &WebhookUrl) -> Vec<&str> {
    url.as_url().path_segments().map(|s| s.collect()).unwrap_or_default()
}

fn alnum(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A Slack incoming webhook: three non-empty alphanumeric parts after `/services/`.
pub(crate) fn parse_slack(raw: &str) -> Result<WebhookUrl, FieldProblem> {
    let url = base(raw)?;
    let wrong = |why: &str| FieldProblem::new("invalid_slack_url", format!("{why}; expected {SLACK_SHAPE}"));
    if url.host_str() != "hooks.slack.com" || url.as_url().port().is_some() {
        return Err(wrong("is not a Slack incoming-webhook host"));
    }
    match segments(&url)[..] {
        ["services", team, bot, secret] if alnum(team) && alnum(bot) && alnum(secret) => {}
        _ => return Err(wrong("the path is not /services/ followed by three alphanumeric parts")),
    }
    if url.as_url().query().is_some() {
        return Err(wrong("a Slack webhook URL has no query string"));
    }
    Ok(url)
}

/// A Discord webhook: `/api/webhooks/{numeric id}/{token}` on discord.com,
/// discordapp.com or their ptb./canary. subdomains; a query (`?thread_id=…`) may follow.
pub(crate) fn parse_discord(raw: &str) -> Result<WebhookUrl, FieldProblem> {
    let url = base(raw)?;
    let wrong = |why: &str| FieldProblem::new("invalid_discord_url", format!("{why}; expected {DISCORD_SHAPE}"));
    if !DISCORD_HOSTS.contains(&url.host_str()) || url.as_url().port().is_some() {
        return Err(wrong("is not a Discord host"));
    }
    let token_ok = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    match segments(&url)[..] {
        ["api", "webhooks", id, token]
            if !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit()) && token_ok(token) => {}
        _ => return Err(wrong("the path is not /api/webhooks/ followed by a numeric id and a token")),
    }
    Ok(url)
}

/// A Microsoft Teams Workflows webhook (Power Automate), not a retired Office 365 connector.
pub(crate) fn parse_msteams(raw: &str) -> Result<WebhookUrl, FieldProblem> {
    let url = base(raw)?;
    let wrong = |why: &str| FieldProblem::new("invalid_msteams_url", format!("{why}; expected {MSTEAMS_SHAPE}"));
    let host = url.host_str();
    let on_power_platform = [".logic.azure.com", ".api.powerplatform.com"]
        .iter()
        .any(|suffix| host.len() > suffix.len() && host.ends_with(suffix));
    if !on_power_platform || url.as_url().port().is_some() {
        let why = if host.ends_with(".webhook.office.com") || host == "outlook.office.com" {
            "Office 365 connector webhooks are retired; create a Workflows webhook in Teams instead"
        } else {
            "is not a Power Automate host"
        };
        return Err(wrong(why));
    }
    let path = url.as_url().path();
    if !path.contains("/workflows/") && !path.contains("/powerautomate/") {
        return Err(wrong("the path has neither /workflows/ nor /powerautomate/"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLACK: &str = "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX";
    const DISCORD: &str = "https://discord.com/api/webhooks/123456789012345678/AbC-d_EfG";
    const LOGIC: &str = concat!(
        "https://prod-12.westus.logic.azure.com:443/workflows/0a1b2c/triggers/manual/paths/invoke",
        "?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=S3cr3tSig"
    );
    const POWER: &str = concat!(
        "https://default0a1b.2c.environment.api.powerplatform.com/powerautomate/automations/direct",
        "/workflows/0a1b2c/triggers/manual/paths/invoke?api-version=1&sig=S3cr3tSig"
    );

    #[test]
    fn slack() {
        assert_eq!(parse_slack(SLACK).unwrap().as_str(), SLACK);
        assert!(parse_slack("https://HOOKS.slack.com/services/T1/B2/abc").is_ok());
        for (bad, code) in [
            ("http://hooks.slack.com/services/T1/B2/abc", "insecure_url"),
            ("https://hooks.slack.com/services/T1/B2", "invalid_slack_url"),
            ("https://hooks.slack.com/services/T1/B2/abc/", "invalid_slack_url"),
            ("https://hooks.slack.com/services/T1//abc", "invalid_slack_url"),
            ("https://hooks.slack.com/services/T1/B2/ab-c", "invalid_slack_url"),
            ("https://hooks.slack.com/workflows/T1/B2/abc", "invalid_slack_url"),
            ("https://hooks.slack.com/services/T1/B2/abc?x=1", "invalid_slack_url"),
            ("https://hooks.slack.com:8443/services/T1/B2/abc", "invalid_slack_url"),
            ("https://slack.com/services/T1/B2/abc", "invalid_slack_url"),
            ("https://hooks.slack.com.evil.example/services/T1/B2/abc", "invalid_slack_url"),
        ] {
            assert_eq!(parse_slack(bad).unwrap_err().code, code, "{bad}");
        }
        assert!(parse_slack("https://slack.com/x").unwrap_err().message.contains(SLACK_SHAPE));
    }

    #[test]
    fn discord() {
        assert_eq!(parse_discord(DISCORD).unwrap().as_str(), DISCORD);
        for ok in [
            "https://discordapp.com/api/webhooks/1/t",
            "https://ptb.discord.com/api/webhooks/1/t",
            "https://canary.discord.com/api/webhooks/1/t",
            "https://discord.com/api/webhooks/1/t?thread_id=42",
        ] {
            assert!(parse_discord(ok).is_ok(), "{ok}");
        }
        for bad in [
            "https://discord.com/api/webhooks/abc/t",
            "https://discord.com/api/webhooks/1",
            "https://discord.com/api/webhooks/1/",
            "https://discord.com/api/webhooks/1/t/extra",
            "https://discord.com/webhooks/1/t",
            "https://discord.gg/api/webhooks/1/t",
            "https://evil.discord.com/api/webhooks/1/t",
            "https://discord.com/api/webhooks/123456789012345678901/t",
        ] {
            assert_eq!(parse_discord(bad).unwrap_err().code, "invalid_discord_url", "{bad}");
        }
        assert!(parse_discord("https://discord.gg/x").unwrap_err().message.contains(DISCORD_SHAPE));
    }

    #[test]
    fn msteams() {
        assert_eq!(parse_msteams(LOGIC).unwrap().as_str(), LOGIC.replace(":443", ""));
        assert_eq!(parse_msteams(POWER).unwrap().as_str(), POWER);
        for bad in [
            "https://logic.azure.com/workflows/x",
            "https://prod-12.westus.logic.azure.com/triggers/manual",
            "https://evil.example/x.logic.azure.com/workflows/x",
            "https://prod-12.westus.logic.azure.com.evil.example/workflows/x",
            "https://x.environment.api.powerplatform.com/flows/x",
            "https://prod-12.westus.logic.azure.com:8443/workflows/x",
        ] {
            assert_eq!(parse_msteams(bad).unwrap_err().code, "invalid_msteams_url", "{bad}");
        }
        let retired =
            parse_msteams("https://acme.webhook.office.com/webhookb2/abc@def/IncomingWebhook/x/y").unwrap_err();
        assert!(retired.message.contains("retired"), "{}", retired.message);
    }
}
