//! How the answer's shape is asked for, by `llm.output`: a strict JSON schema (OpenAI, recent
//! vLLM and Ollama), a forced function call (servers with tools but no structured output), or
//! plain JSON mode (the widest support; the schema is then only described in the prompt).

use super::answer::TOOL_NAME;
use super::schema::{Json, schema};
use super::view::estimate_tokens;
use async_openai::types::chat::{
    ChatCompletionRequestMessage, ChatCompletionRequestSystemMessage,
    ChatCompletionRequestSystemMessageContent, ChatCompletionRequestUserMessage,
    ChatCompletionRequestUserMessageContent, ChatCompletionToolChoiceOption,
    CreateChatCompletionRequest, ToolChoiceOptions,
};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    JsonSchema,
    Tool,
    JsonObject,
}

impl OutputMode {
    /// Every mode, in the order `llm probe` recommends them: a grammar beats a forced call beats
    /// a schema described in the prompt.
    pub const ALL: [OutputMode; 3] = [Self::JsonSchema, Self::Tool, Self::JsonObject];

    /// The `llm.output` value of this mode.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::JsonSchema => "json_schema",
            Self::Tool => "tool",
            Self::JsonObject => "json_object",
        }
    }

    pub fn parse(s: &str) -> anyhow::Result<Self> {
        match s {
            "json_schema" => Ok(Self::JsonSchema),
            "tool" => Ok(Self::Tool),
            "json_object" => Ok(Self::JsonObject),
            other => anyhow::bail!(
                "llm.output must be json_schema, tool or json_object (got \"{other}\")"
            ),
        }
    }
}

/// One chat completion request as it goes on the wire: async-openai's request for everything
/// but the parts that carry the answer schema, which are written here so the schema keeps its
/// property order (see [`super::schema`]).
#[derive(Debug, Clone, Serialize)]
pub struct WireRequest {
    #[serde(flatten)]
    pub base: CreateChatCompletionRequest,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<Json>,
}

impl WireRequest {
    /// Prompt tokens the server will see, estimated: the messages, plus the tool definitions a
    /// server's chat template renders into the prompt in tool mode. (A `json_schema` schema
    /// becomes a grammar, not prompt text; in `json_object` mode it is already in the system
    /// message.)
    pub fn prompt_tokens(&self) -> u64 {
        let messages: u64 = self
            .base
            .messages
            .iter()
            .map(|m| match m {
                ChatCompletionRequestMessage::System(s) => text_tokens(&s.content),
                ChatCompletionRequestMessage::User(u) => user_tokens(&u.content),
                _ => 0,
            })
            .sum();
        messages
            + self
                .tools
                .as_ref()
                .map_or(0, |t| estimate_tokens(&t.to_string()))
    }
}

fn text_tokens(c: &ChatCompletionRequestSystemMessageContent) -> u64 {
    match c {
        ChatCompletionRequestSystemMessageContent::Text(t) => estimate_tokens(t),
        _ => 0,
    }
}

fn user_tokens(c: &ChatCompletionRequestUserMessageContent) -> u64 {
    match c {
        ChatCompletionRequestUserMessageContent::Text(t) => estimate_tokens(t),
        _ => 0,
    }
}

/// How the answer is drawn: its length bound and, where a deployment sets one, its temperature.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    pub max_tokens: u32,
    /// Unset by default: reasoning models reject anything but their default, and the schema
    /// already leaves a model little room. A self-hosted server's default (0.8 on llama.cpp)
    /// makes a small model read the same message differently from one try to the next; 0 makes
    /// its reading repeatable.
    pub temperature: Option<f32>,
}

/// One chat completion request: the system prompt, the turn prompt, the answer format, and the
/// sampling bounds.
pub fn request(
    model: &str,
    mode: OutputMode,
    system: String,
    user: String,
    sampling: Sampling,
) -> WireRequest {
    let mut system = system;
    if mode == OutputMode::JsonObject {
        // JSON mode only promises JSON, so the shape has to be in the prompt.
        system.push_str(&format!(
            "\n\nThe JSON object must match this JSON schema exactly:\n{}",
            schema()
        ));
    }
    let messages = vec![
        ChatCompletionRequestMessage::System(ChatCompletionRequestSystemMessage {
            content: system.into(),
            name: None,
        }),
        ChatCompletionRequestMessage::User(ChatCompletionRequestUserMessage {
            content: user.into(),
            name: None,
        }),
    ];
    let mut base = CreateChatCompletionRequest {
        model: model.to_string(),
        messages,
        max_completion_tokens: Some(sampling.max_tokens),
        temperature: sampling.temperature,
        ..Default::default()
    };
    let mut wire = WireRequest {
        base: CreateChatCompletionRequest::default(),
        response_format: None,
        tools: None,
    };
    match mode {
        OutputMode::JsonSchema => {
            wire.response_format = Some(obj(vec![
                ("type", Json::Str("json_schema".into())),
                (
                    "json_schema",
                    obj(vec![
                        ("name", Json::Str(TOOL_NAME.into())),
                        (
                            "description",
                            Json::Str("The access request as Warden's fields".into()),
                        ),
                        ("schema", schema()),
                        ("strict", Json::Bool(true)),
                    ]),
                ),
            ]));
        }
        OutputMode::Tool => {
            wire.tools = Some(Json::Arr(vec![obj(vec![
                ("type", Json::Str("function".into())),
                (
                    "function",
                    obj(vec![
                        ("name", Json::Str(TOOL_NAME.into())),
                        (
                            "description",
                            Json::Str(
                                "Propose the access request's fields for the requester to confirm"
                                    .into(),
                            ),
                        ),
                        ("parameters", schema()),
                        ("strict", Json::Bool(true)),
                    ]),
                ),
            ])]));
            // With one tool, "required" forces exactly that tool, and it is the form the widest
            // set of servers accepts: llama.cpp ignores a tool_choice object naming the function
            // (and falls back to "auto"), OpenAI and vLLM take either.
            base.tool_choice = Some(ChatCompletionToolChoiceOption::Mode(
                ToolChoiceOptions::Required,
            ));
            base.parallel_tool_calls = Some(false);
        }
        OutputMode::JsonObject => {
            wire.response_format = Some(obj(vec![("type", Json::Str("json_object".into()))]))
        }
    }
    wire.base = base;
    wire
}

fn obj(entries: Vec<(&str, Json)>) -> Json {
    Json::Obj(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bound(max_tokens: u32) -> Sampling {
        Sampling {
            max_tokens,
            temperature: None,
        }
    }

    fn body(mode: OutputMode) -> serde_json::Value {
        serde_json::to_value(request("m", mode, "sys".into(), "user".into(), bound(300))).unwrap()
    }

    #[test]
    fn each_mode_asks_for_the_answer_in_its_own_way() {
        let s = body(OutputMode::JsonSchema);
        assert_eq!(s["response_format"]["type"], "json_schema");
        assert_eq!(s["response_format"]["json_schema"]["strict"], true);
        let t = body(OutputMode::Tool);
        assert_eq!(t["tools"][0]["function"]["name"], TOOL_NAME);
        assert_eq!(
            t["tool_choice"], "required",
            "llama.cpp ignores a named-function object"
        );
        assert_eq!(t["max_completion_tokens"], 300);
        let j = body(OutputMode::JsonObject);
        assert_eq!(j["response_format"]["type"], "json_object");
        assert!(
            j["messages"][0]["content"]
                .as_str()
                .unwrap()
                .contains("\"additionalProperties\":false")
        );
    }

    #[test]
    fn a_temperature_goes_on_the_wire_only_when_one_is_set() {
        assert!(body(OutputMode::JsonSchema).get("temperature").is_none());
        let cold = Sampling {
            max_tokens: 300,
            temperature: Some(0.0),
        };
        let s = serde_json::to_value(request("m", OutputMode::Tool, "s".into(), "u".into(), cold))
            .unwrap();
        assert_eq!(s["temperature"], 0.0);
    }

    #[test]
    fn the_schema_keeps_its_order_in_the_request_bytes() {
        for mode in [OutputMode::JsonSchema, OutputMode::Tool] {
            let wire = serde_json::to_string(&request("m", mode, "s".into(), "u".into(), bound(1)))
                .unwrap();
            let action = wire.find("\"action\":{").unwrap();
            let break_glass = wire.find("\"break_glass\":{").unwrap();
            assert!(action < break_glass, "{wire}");
        }
    }

    #[test]
    fn the_prompt_estimate_counts_the_tool_definitions_in_tool_mode() {
        let tokens =
            |mode| request("m", mode, "sys".into(), "user".into(), bound(1)).prompt_tokens();
        let schema_tokens = estimate_tokens(&schema().to_string());
        assert!(tokens(OutputMode::Tool) >= tokens(OutputMode::JsonSchema) + schema_tokens);
        assert!(tokens(OutputMode::JsonObject) >= tokens(OutputMode::JsonSchema) + schema_tokens);
    }
}
