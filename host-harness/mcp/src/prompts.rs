//! Prompts: the jobs people bring to such a server, as templates the host
//! supplies (this crate knows no integration). A prompt names its
//! arguments, runs one read-only tool with them, and answers its
//! instructions followed by the tool's answer, so the model starts from
//! real data within the tool's own budget.

use rmcp::ErrorData;
use rmcp::model::{GetPromptResult, Prompt, PromptArgument, PromptMessage, Role};
use serde_json::{Map, Value};

/// One prompt. In `instructions` and in the string values of `params`,
/// `{argument}` is replaced by the argument's value; a string value that is
/// only `{argument}` takes the argument as a number when it is one.
#[derive(Debug, Clone)]
pub struct PromptTemplate {
    pub name: String,
    pub title: String,
    pub description: String,
    /// (name, description, required)
    pub arguments: Vec<(String, String, bool)>,
    /// The read-only tool whose answer the prompt carries.
    pub tool: String,
    pub params: Value,
    pub instructions: String,
}

impl PromptTemplate {
    pub(crate) fn listed(&self) -> Prompt {
        let arguments = self
            .arguments
            .iter()
            .map(|(name, description, required)| {
                let mut argument = PromptArgument::new(name.clone());
                argument.description = Some(description.clone());
                argument.required = Some(*required);
                argument
            })
            .collect();
        let mut prompt = Prompt::new(
            self.name.clone(),
            Some(self.description.clone()),
            Some(arguments),
        );
        prompt.title = Some(self.title.clone());
        prompt
    }

    /// The tool's params with the arguments filled in; a missing required
    /// argument is refused by name.
    pub(crate) fn params(&self, arguments: &Map<String, Value>) -> Result<Value, ErrorData> {
        for (name, _, required) in &self.arguments {
            if *required && text_of(arguments.get(name)).is_none() {
                return Err(ErrorData::invalid_params(
                    format!("the prompt '{}' needs the argument '{name}'", self.name),
                    None,
                ));
            }
        }
        Ok(fill(&self.params, arguments))
    }

    pub(crate) fn answer(&self, arguments: &Map<String, Value>, data: &str) -> GetPromptResult {
        let instructions = substitute(&self.instructions, arguments);
        GetPromptResult::new(vec![PromptMessage::new_text(
            Role::User,
            format!("{instructions}\n\n`{}` answered:\n\n{data}", self.tool),
        )])
        .with_description(self.description.clone())
    }
}

fn text_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn substitute(text: &str, arguments: &Map<String, Value>) -> String {
    arguments
        .iter()
        .fold(text.to_owned(), |text, (name, value)| {
            match text_of(Some(value)) {
                Some(value) => text.replace(&format!("{{{name}}}"), &value),
                None => text,
            }
        })
}

pub(crate) fn fill(template: &Value, arguments: &Map<String, Value>) -> Value {
    match template {
        Value::String(s) => {
            let whole = s
                .strip_prefix('{')
                .and_then(|rest| rest.strip_suffix('}'))
                .and_then(|name| text_of(arguments.get(name)));
            match whole {
                Some(value) => value
                    .parse::<u64>()
                    .map_or(Value::String(value), |n| Value::Number(n.into())),
                None => Value::String(substitute(s, arguments)),
            }
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), fill(v, arguments)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| fill(v, arguments)).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn arguments_fill_the_params_and_the_instructions() {
        let template = PromptTemplate {
            name: "review".into(),
            title: "Review".into(),
            description: "d".into(),
            arguments: vec![("id".into(), "the id".into(), true)],
            tool: "get".into(),
            params: json!({ "id": "{id}", "label": "pr {id}" }),
            instructions: "Review #{id}.".into(),
        };
        let arguments = json!({ "id": "7" }).as_object().unwrap().clone();
        assert_eq!(
            template.params(&arguments).unwrap(),
            json!({ "id": 7, "label": "pr 7" })
        );
        let answer = template.answer(&arguments, "{}");
        let text = serde_json::to_value(&answer.messages[0])
            .unwrap()
            .to_string();
        assert!(text.contains("Review #7."), "{text}");
        assert!(template.params(&Map::new()).is_err(), "a required argument");
    }
}
