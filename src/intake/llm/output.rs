//! How the answer's shape is asked for, by `llm.output`: a strict JSON schema (OpenAI, recent
//! vLLM and Ollama), a forced function call (servers with tools but no structured output), or
//! plain JSON mode (the widest support; the schema is then only described in the prompt).

use super::answer::{TOOL_NAME, schema};
use async_openai::types::chat::{
    ChatCompletionNamedToolChoice, ChatCompletionRequestMessage,
    ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage, ChatCompletionTool,
    ChatCompletionToolChoiceOption, ChatCompletionTools, CreateChatCompletionRequest, FunctionName,
    FunctionObject, ResponseFormat, ResponseFormatJsonSchema,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    JsonSchema,
    Tool,
    JsonObject,
}

impl OutputMode {
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

/// Answers are short; a cap stops a runaway model from costing time and money. It leaves room
/// for reasoning models, whose hidden reasoning counts against it.
const MAX_ANSWER_TOKENS: u32 = 1024;

/// One chat completion request: the system prompt, the turn prompt, and the answer format.
pub fn request(
    model: &str,
    mode: OutputMode,
    system: String,
    user: String,
) -> CreateChatCompletionRequest {
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
    let mut req = CreateChatCompletionRequest {
        model: model.to_string(),
        messages,
        // No temperature: reasoning models reject anything but the default, and the schema
        // already leaves the model little room.
        max_completion_tokens: Some(MAX_ANSWER_TOKENS),
        ..Default::default()
    };
    match mode {
        OutputMode::JsonSchema => {
            req.response_format = Some(ResponseFormat::JsonSchema {
                json_schema: ResponseFormatJsonSchema {
                    name: TOOL_NAME.into(),
                    description: Some("The access request as Warden's fields".into()),
                    schema: schema(),
                    strict: Some(true),
                },
            });
        }
        OutputMode::Tool => {
            req.tools = Some(vec![ChatCompletionTools::Function(ChatCompletionTool {
                function: FunctionObject {
                    name: TOOL_NAME.into(),
                    description: Some(
                        "Propose the access request's fields for the requester to confirm".into(),
                    ),
                    parameters: Some(schema()),
                    strict: Some(true),
                },
            })]);
            req.tool_choice = Some(ChatCompletionToolChoiceOption::Function(
                ChatCompletionNamedToolChoice {
                    function: FunctionName {
                        name: TOOL_NAME.into(),
                    },
                },
            ));
            req.parallel_tool_calls = Some(false);
        }
        OutputMode::JsonObject => req.response_format = Some(ResponseFormat::JsonObject),
    }
    req
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(mode: OutputMode) -> serde_json::Value {
        serde_json::to_value(request("m", mode, "sys".into(), "user".into())).unwrap()
    }

    #[test]
    fn each_mode_asks_for_the_answer_in_its_own_way() {
        let s = body(OutputMode::JsonSchema);
        assert_eq!(s["response_format"]["type"], "json_schema");
        assert_eq!(s["response_format"]["json_schema"]["strict"], true);
        let t = body(OutputMode::Tool);
        assert_eq!(t["tools"][0]["function"]["name"], TOOL_NAME);
        assert_eq!(t["tool_choice"]["function"]["name"], TOOL_NAME);
        let j = body(OutputMode::JsonObject);
        assert_eq!(j["response_format"]["type"], "json_object");
        assert!(
            j["messages"][0]["content"]
                .as_str()
                .unwrap()
                .contains("\"additionalProperties\":false")
        );
    }
}
