//! The optional language-model provider: any OpenAI-compatible `/v1/chat/completions`
//! endpoint (OpenAI, Ollama, vLLM, llama.cpp server). Ferrodesk asks for JSON matching a
//! schema (`response_format: json_schema`) and validates what comes back; a timeout, an
//! error status, or output that is not the asked-for JSON is an error the caller answers
//! with the built-in result. Only masked text is sent: the thread passes through
//! [`super::mask`] and the customer is called "the customer", never by name.

use std::time::Duration;

use serde_json::{Value, json};

use super::mask::mask;
use super::settings::AiSettings;
use super::summaries::Input;
use super::summary::Summary;
use crate::ctx::Ctx;

/// Longest thread text sent, in characters (the newest messages are kept).
const MAX_PROMPT_CHARS: usize = 24_000;

/// The chat-completions URL of a base URL given with or without `/v1`.
#[must_use]
pub fn endpoint(base: &str) -> String {
    let b = base.trim_end_matches('/');
    if b.ends_with("/v1") {
        format!("{b}/chat/completions")
    } else {
        format!("{b}/v1/chat/completions")
    }
}

/// The thread as masked text for a prompt, newest kept when it is too long.
#[must_use]
pub fn masked_thread(input: &Input) -> String {
    let mut parts: Vec<String> = vec![
        format!("Subject: {}", mask(&input.ticket.subject).text),
        format!("Status: {}", input.ticket.status.label()),
    ];
    for c in &input.thread {
        let who = match (c.author_type.as_str(), c.is_internal) {
            (_, true) => "Internal note",
            ("customer", _) => "Customer",
            ("system", _) => "System",
            _ => "Agent",
        };
        parts.push(format!("{who}: {}", mask(&c.body).text));
    }
    let mut text = parts.join("\n\n");
    if text.chars().count() > MAX_PROMPT_CHARS {
        let skip = text.chars().count() - MAX_PROMPT_CHARS;
        text = text.chars().skip(skip).collect();
    }
    text
}

/// Asks the endpoint for one JSON object matching `schema`; answers it, or why not.
pub async fn chat_json(
    ctx: &Ctx,
    settings: &AiSettings,
    api_key: Option<&str>,
    name: &str,
    schema: Value,
    system: &str,
    user: &str,
) -> Result<Value, String> {
    let base = settings.base_url.as_deref().ok_or("no base_url is set")?;
    let model = settings.model.as_deref().ok_or("no model is set")?;
    let url = endpoint(base);
    let (client, url) = crate::net::guarded_client(&url, ctx.allow_private_webhooks)
        .await
        .map_err(|e| format!("{e:?}"))?;
    let body = json!({
        "model": model,
        "temperature": 0.2,
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": user},
        ],
        "response_format": {"type": "json_schema", "json_schema": {"name": name, "strict": true, "schema": schema}},
    });
    let mut req = client.post(url).json(&body);
    if let Some(k) = api_key {
        req = req.bearer_auth(k);
    }
    let wait = Duration::from_secs(settings.timeout_seconds);
    let call = async {
        let res = req
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let status = res.status();
        let text = res
            .text()
            .await
            .map_err(|e| format!("reading the answer: {e}"))?;
        if !status.is_success() {
            return Err(format!(
                "the endpoint answered {status}: {}",
                text.chars().take(200).collect::<String>()
            ));
        }
        Ok(text)
    };
    let text = tokio::time::timeout(wait, call)
        .await
        .map_err(|_| format!("no answer within {} s", settings.timeout_seconds))??;
    let answer: Value =
        serde_json::from_str(&text).map_err(|e| format!("the answer is not JSON: {e}"))?;
    let content = answer["choices"][0]["message"]["content"]
        .as_str()
        .ok_or("the answer has no choices[0].message.content")?;
    let content = content
        .trim()
        .trim_start_matches("```json")
        .trim_start_matches("```")
        .trim_end_matches("```")
        .trim();
    serde_json::from_str(content).map_err(|e| format!("the content is not the asked-for JSON: {e}"))
}

/// A list of at most `max` strings of at most `len` characters each, masked again.
pub fn strings(v: &Value, field: &str, max: usize, len: usize) -> Result<Vec<String>, String> {
    let list = v[field]
        .as_array()
        .ok_or_else(|| format!("`{field}` is not a list"))?;
    if list.len() > max {
        return Err(format!("`{field}` has more than {max} items"));
    }
    list.iter()
        .map(|x| match x.as_str() {
            Some(s) if !s.trim().is_empty() && s.chars().count() <= len => Ok(mask(s.trim()).text),
            _ => Err(format!(
                "`{field}` holds an empty, too long or non-text item"
            )),
        })
        .collect()
}

/// A required text of at most `len` characters, masked again.
pub fn text(v: &Value, field: &str, len: usize) -> Result<String, String> {
    match v[field].as_str() {
        Some(s) if !s.trim().is_empty() && s.chars().count() <= len => Ok(mask(s.trim()).text),
        _ => Err(format!(
            "`{field}` is missing, empty or longer than {len} characters"
        )),
    }
}

/// An abstractive summary: the model writes `summary`, `keyPoints` and `suggestedActions`;
/// the sentiment and the conversation summary stay the built-in ones.
pub async fn summarize(
    ctx: &Ctx,
    settings: &AiSettings,
    api_key: Option<&str>,
    input: &Input,
    builtin: &Summary,
) -> Result<Summary, String> {
    let schema = json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["summary", "keyPoints", "suggestedActions"],
        "properties": {
            "summary": {"type": "string"},
            "keyPoints": {"type": "array", "items": {"type": "string"}},
            "suggestedActions": {"type": "array", "items": {"type": "string"}},
        }
    });
    let system = "You summarize customer-support tickets for the support agents who will handle them. \
        Write in the language of the thread. `summary`: two to four sentences: what the customer reports, \
        what has been tried, where it stands. `keyPoints`: up to 5 short facts. `suggestedActions`: up to 5 \
        next steps for the agent. Refer to the requester as \"the customer\". Placeholders like [email] \
        stand for masked personal data: keep them as they are. Answer with the JSON object only.";
    let v = chat_json(
        ctx,
        settings,
        api_key,
        "ticket_summary",
        schema,
        system,
        &masked_thread(input),
    )
    .await?;
    Ok(Summary {
        summary: text(&v, "summary", 2000)?,
        key_points: strings(&v, "keyPoints", 10, 500)?,
        suggested_actions: strings(&v, "suggestedActions", 10, 500)?,
        ..builtin.clone()
    })
}

/// A fluent draft: the model rewrites the built-in draft from the masked thread and the
/// cited articles, in the asked tone and the workspace's terms. The customer's name travels
/// as `[customer name]` and is put back here.
pub async fn draft(
    ctx: &Ctx,
    settings: &AiSettings,
    api_key: Option<&str>,
    input: &Input,
    d: &super::draft::Context<'_>,
    builtin: &super::draft::Draft,
) -> Result<String, String> {
    let schema = json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["draft"],
        "properties": {"draft": {"type": "string"}}
    });
    let articles = builtin
        .cited
        .iter()
        .map(|&i| {
            let a = &d.articles[i];
            format!(
                "Article \"{}\" ({}):\n{}",
                a.title,
                a.url,
                mask(&a.text.chars().take(4000).collect::<String>()).text
            )
        })
        .collect::<Vec<_>>()
        .join("\n\n");
    let terms = d
        .terminology
        .iter()
        .map(|t| format!("say \"{}\", never {}", t.term, t.instead_of.join(" / ")))
        .collect::<Vec<_>>()
        .join("; ");
    let system = format!(
        "You draft replies for a customer-support agent to edit before sending. Tone: {}. \
         Address the customer as \"[customer name]\". Sign as {}. Answer only from the articles \
         given; when they do not answer the question, ask the customer the questions you need \
         instead of guessing. Keep placeholders like [email] as they are. Terminology: {}. \
         Answer with the JSON object only.",
        d.tone.as_str(),
        d.agent_name,
        if terms.is_empty() { "none" } else { &terms }
    );
    let user = format!(
        "Conversation:\n{}\n\n{}\n\nA template draft to improve:\n{}",
        masked_thread(input),
        if articles.is_empty() {
            "No article applies.".to_owned()
        } else {
            articles
        },
        builtin.text.replace(d.requester_name, "[customer name]"),
    );
    let v = chat_json(
        ctx,
        settings,
        api_key,
        "reply_draft",
        schema,
        &system,
        &user,
    )
    .await?;
    let text = text(&v, "draft", 8000)?;
    let first = d.requester_name.split_whitespace().next().unwrap_or("");
    let named = text.replace(
        "[customer name]",
        if first.is_empty() { "there" } else { first },
    );
    Ok(super::draft::apply_terminology(&named, d.terminology))
}

#[cfg(test)]
mod tests {
    use super::endpoint;

    #[test]
    fn endpoint_accepts_bases_with_and_without_v1() {
        assert_eq!(
            endpoint("https://api.openai.com/v1"),
            "https://api.openai.com/v1/chat/completions"
        );
        assert_eq!(
            endpoint("http://localhost:11434/"),
            "http://localhost:11434/v1/chat/completions"
        );
    }
}
