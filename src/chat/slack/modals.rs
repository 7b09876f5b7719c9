//! The Edit and Deny modals: what they show, and what their submission means.

use super::blocks::escape;
use crate::chat::EditFields;
use serde::{Deserialize, Serialize};
use slack_morphism::prelude::*;

pub const EDIT_CALLBACK: &str = "warden_edit";
pub const DENY_CALLBACK: &str = "warden_deny";
/// "Deny all" on a bundle's approval card; `ModalContext::request_id` holds every listed id.
pub const DENY_ALL_CALLBACK: &str = "warden_deny_all";
/// The `action_id` of every input in Warden's modals; the `block_id` names the field.
pub const INPUT: &str = "value";

/// Carried through a modal: which request, and where the click happened (for the reply).
/// Untrusted like a button value: the engine checks who may act on the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModalContext {
    #[serde(rename = "r")]
    pub request_id: String,
    #[serde(rename = "c", default)]
    pub channel: String,
    #[serde(rename = "t", default, skip_serializing_if = "Option::is_none")]
    pub thread: Option<String>,
}

fn input(
    block_id: &str,
    label: &str,
    initial: Option<String>,
    multiline: bool,
    optional: bool,
) -> SlackBlock {
    let mut element = SlackBlockPlainTextInputElement::new()
        .with_action_id(SlackActionId::new(INPUT.into()))
        .with_max_length(300);
    element.initial_value = initial.filter(|v| !v.is_empty());
    element.multiline = multiline.then_some(true);
    SlackInputBlock::new(
        SlackBlockPlainText::new(label.into()).into(),
        SlackInputBlockElement::PlainTextInput(element),
    )
    .with_block_id(SlackBlockId::new(block_id.into()))
    .with_optional(optional)
    .into()
}

fn modal(
    title: &str,
    submit: &str,
    callback: &str,
    ctx: &ModalContext,
    blocks: Vec<SlackBlock>,
) -> SlackView {
    SlackView::Modal(
        SlackModalView::new(SlackBlockPlainText::new(title.into()).into(), blocks)
            .with_submit(SlackBlockPlainText::new(submit.into()).into())
            .with_close(SlackBlockPlainText::new("Cancel".into()).into())
            .with_callback_id(SlackCallbackId::new(callback.into()))
            .with_private_metadata(serde_json::to_string(ctx).unwrap_or_default()),
    )
}

/// The request's current fields, as the engine gave them, ready to change.
pub fn edit_view(fields: &EditFields, ctx: &ModalContext) -> SlackView {
    let intro = SlackSectionBlock::new().with_text(SlackBlockText::Plain(
        SlackBlockPlainText::new(escape(&format!(
            "Change what you need for request {}, then save. You'll see the card again to confirm.",
            ctx.request_id
        ))),
    ));
    let blocks = vec![
        intro.into(),
        input(
            "resource",
            "Resource",
            fields.resource.clone(),
            false,
            false,
        ),
        input("role", "Role", fields.role.clone(), false, false),
        input(
            "duration",
            "Duration (e.g. 2h)",
            fields.duration.clone(),
            false,
            false,
        ),
        input(
            "justification",
            "Reason",
            fields.justification.clone(),
            true,
            true,
        ),
    ];
    modal("Edit request", "Save", EDIT_CALLBACK, ctx, blocks)
}

/// Asks the approver why (for one request, or for every item `all` lists).
pub fn deny_view(ctx: &ModalContext, all: bool) -> SlackView {
    let what = if all {
        format!("Deny {}?", ctx.request_id.replace(',', ", "))
    } else {
        format!("Deny request {}?", ctx.request_id)
    };
    let intro = SlackSectionBlock::new().with_text(SlackBlockText::Plain(
        SlackBlockPlainText::new(escape(&format!("{what} The requester sees your reason."))),
    ));
    modal(
        if all { "Deny requests" } else { "Deny request" },
        "Deny",
        if all {
            DENY_ALL_CALLBACK
        } else {
            DENY_CALLBACK
        },
        ctx,
        vec![intro.into(), input("reason", "Reason", None, true, false)],
    )
}

/// The values of a submitted modal: `state.values[block_id][action_id].value`.
pub fn value(values: &serde_json::Value, block_id: &str) -> Option<String> {
    values
        .get(block_id)?
        .get(INPUT)?
        .get("value")?
        .as_str()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

pub fn edit_fields(values: &serde_json::Value) -> EditFields {
    EditFields {
        resource: value(values, "resource"),
        role: value(values, "role"),
        duration: value(values, "duration"),
        justification: value(values, "justification"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deny_modal_carries_its_request_and_asks_for_a_reason() {
        let ctx = ModalContext {
            request_id: "AR-7K3D9QX2".into(),
            channel: "D1".into(),
            thread: None,
        };
        let v = serde_json::to_value(deny_view(&ctx, false)).unwrap();
        assert_eq!(v["type"], "modal");
        assert_eq!(v["callback_id"], DENY_CALLBACK);
        let back: ModalContext =
            serde_json::from_str(v["private_metadata"].as_str().unwrap()).unwrap();
        assert_eq!(back, ctx);
        let reason = v["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["block_id"] == "reason")
            .unwrap();
        assert_eq!(reason["element"]["action_id"], INPUT);
    }

    #[test]
    fn submitted_values_are_trimmed_and_blanks_are_none() {
        let values = serde_json::json!({
            "resource": { "value": { "type": "plain_text_input", "value": " prod-billing-db " } },
            "role": { "value": { "type": "plain_text_input", "value": "" } },
            "duration": { "value": { "type": "plain_text_input", "value": null } },
        });
        let f = edit_fields(&values);
        assert_eq!(f.resource.as_deref(), Some("prod-billing-db"));
        assert_eq!((f.role, f.duration, f.justification), (None, None, None));
    }
}
