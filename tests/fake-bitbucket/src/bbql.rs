//! Bitbucket's query language (`q`) and `sort`, evaluated over the JSON the
//! fake answers with: `field op value` joined by AND/OR with parentheses;
//! ops `= != ~ !~ > >= < <=`; strings in double quotes, numbers, booleans,
//! `null` and bare ISO dates.

use std::cmp::Ordering;

use serde_json::Value;

#[derive(Debug, Clone)]
pub enum Query {
    Compare {
        field: String,
        op: Op,
        value: Literal,
    },
    And(Box<Query>, Box<Query>),
    Or(Box<Query>, Box<Query>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    Eq,
    Ne,
    Contains,
    NotContains,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone)]
pub enum Literal {
    Text(String),
    Number(f64),
    Bool(bool),
    Null,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Text(String),
    Op(Op),
    Open,
    Close,
}

/// Parses `q`, refusing fields not in `fields` the way Bitbucket does.
pub fn parse(input: &str, fields: &[&str]) -> Result<Query, String> {
    let tokens = tokenize(input)?;
    let mut parser = Parser {
        tokens,
        at: 0,
        fields,
    };
    let query = parser.or()?;
    if parser.at != parser.tokens.len() {
        return Err(format!("Invalid query syntax near token {}", parser.at + 1));
    }
    Ok(query)
}

impl Query {
    pub fn matches(&self, item: &Value) -> bool {
        match self {
            Query::And(a, b) => a.matches(item) && b.matches(item),
            Query::Or(a, b) => a.matches(item) || b.matches(item),
            Query::Compare { field, op, value } => {
                let found = lookup_all(item, field);
                match found.as_slice() {
                    [] => compare(&Value::Null, *op, value),
                    [one] => compare(one, *op, value),
                    // A field inside a list (`reviewers.uuid`): `=`, `~` and
                    // the orderings hold when some element does, `!=` and
                    // `!~` when every element does.
                    many if matches!(op, Op::Ne | Op::NotContains) => {
                        many.iter().all(|v| compare(v, *op, value))
                    }
                    many => many.iter().any(|v| compare(v, *op, value)),
                }
            }
        }
    }
}

/// Every value `field` reaches, stepping into lists along the way.
fn lookup_all<'a>(item: &'a Value, field: &str) -> Vec<&'a Value> {
    let mut at = vec![item];
    for key in field.split('.') {
        at = at
            .into_iter()
            .flat_map(|v| match v {
                Value::Array(items) => items.iter().filter_map(|i| i.get(key)).collect(),
                _ => v.get(key).into_iter().collect::<Vec<_>>(),
            })
            .collect();
    }
    at
}

/// Sorts by `sort` (`field` or `-field`), refusing fields not in `fields`.
pub fn sort(items: &mut [Value], sort: &str, fields: &[&str]) -> Result<(), String> {
    let (descending, field) = match sort.strip_prefix('-') {
        Some(field) => (true, field),
        None => (false, sort),
    };
    if !fields.contains(&field) {
        return Err(format!("Invalid sort field: {field}"));
    }
    items.sort_by(|a, b| {
        let order = order(lookup(a, field), lookup(b, field));
        if descending { order.reverse() } else { order }
    });
    Ok(())
}

fn lookup<'a>(item: &'a Value, field: &str) -> &'a Value {
    field
        .split('.')
        .fold(item, |v, key| v.get(key).unwrap_or(&Value::Null))
}

fn order(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .unwrap_or(0.0)
            .partial_cmp(&y.as_f64().unwrap_or(0.0))
            .unwrap_or(Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.to_lowercase().cmp(&y.to_lowercase()),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        _ => Ordering::Equal,
    }
}

fn compare(actual: &Value, op: Op, expected: &Literal) -> bool {
    match (op, expected) {
        (Op::Contains | Op::NotContains, Literal::Text(needle)) => {
            let hit = actual
                .as_str()
                .is_some_and(|s| s.to_lowercase().contains(&needle.to_lowercase()));
            (op == Op::Contains) == hit
        }
        (Op::Contains | Op::NotContains, _) => false,
        _ => {
            let expected_value = match expected {
                Literal::Text(s) => Value::String(s.clone()),
                Literal::Number(n) => serde_json::json!(n),
                Literal::Bool(b) => Value::Bool(*b),
                Literal::Null => Value::Null,
            };
            let ordering = match (actual, &expected_value) {
                (Value::String(a), Value::String(e)) => a.cmp(e),
                _ => order(actual, &expected_value),
            };
            let equal = actual == &expected_value
                || (ordering == Ordering::Equal && !actual.is_null() && !expected_value.is_null());
            match op {
                Op::Eq => equal,
                Op::Ne => !equal,
                Op::Gt => ordering == Ordering::Greater,
                Op::Ge => ordering != Ordering::Less,
                Op::Lt => ordering == Ordering::Less,
                Op::Le => ordering != Ordering::Greater,
                Op::Contains | Op::NotContains => unreachable!("handled above"),
            }
        }
    }
}

struct Parser<'a> {
    tokens: Vec<Token>,
    at: usize,
    fields: &'a [&'a str],
}

impl Parser<'_> {
    fn or(&mut self) -> Result<Query, String> {
        let mut left = self.and()?;
        while self.keyword("OR") {
            left = Query::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Query, String> {
        let mut left = self.term()?;
        while self.keyword("AND") {
            left = Query::And(Box::new(left), Box::new(self.term()?));
        }
        Ok(left)
    }

    fn keyword(&mut self, word: &str) -> bool {
        if matches!(self.tokens.get(self.at), Some(Token::Ident(w)) if w.eq_ignore_ascii_case(word))
        {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn term(&mut self) -> Result<Query, String> {
        match self.tokens.get(self.at).cloned() {
            Some(Token::Open) => {
                self.at += 1;
                let inner = self.or()?;
                if self.tokens.get(self.at) != Some(&Token::Close) {
                    return Err("Invalid query syntax: missing ')'".into());
                }
                self.at += 1;
                Ok(inner)
            }
            Some(Token::Ident(field)) => {
                if !self.fields.contains(&field.as_str()) {
                    return Err(format!("Invalid field name: {field}"));
                }
                self.at += 1;
                let Some(Token::Op(op)) = self.tokens.get(self.at).cloned() else {
                    return Err(format!(
                        "Invalid query syntax: expected an operator after {field}"
                    ));
                };
                self.at += 1;
                let value = match self.tokens.get(self.at).cloned() {
                    Some(Token::Text(s)) => Literal::Text(s),
                    Some(Token::Ident(word)) => match word.as_str() {
                        "true" => Literal::Bool(true),
                        "false" => Literal::Bool(false),
                        "null" => Literal::Null,
                        other => match other.parse::<f64>() {
                            Ok(n) => Literal::Number(n),
                            // Bare dates and datetimes compare as text.
                            Err(_) => Literal::Text(other.to_owned()),
                        },
                    },
                    _ => {
                        return Err(format!(
                            "Invalid query syntax: expected a value after {field}"
                        ));
                    }
                };
                self.at += 1;
                Ok(Query::Compare { field, op, value })
            }
            _ => Err("Invalid query syntax".into()),
        }
    }
}

fn tokenize(input: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = input.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' => i += 1,
            '(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            ')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            '"' => {
                let mut text = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err("Invalid query syntax: unterminated string".into()),
                        Some('\\') => {
                            text.extend(chars.get(i + 1));
                            i += 2;
                        }
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some(other) => {
                            text.push(*other);
                            i += 1;
                        }
                    }
                }
                tokens.push(Token::Text(text));
            }
            '=' | '!' | '~' | '>' | '<' => {
                let two: String = chars[i..chars.len().min(i + 2)].iter().collect();
                let (op, width) = match two.as_str() {
                    "!=" => (Op::Ne, 2),
                    "!~" => (Op::NotContains, 2),
                    ">=" => (Op::Ge, 2),
                    "<=" => (Op::Le, 2),
                    _ => match c {
                        '=' => (Op::Eq, 1),
                        '~' => (Op::Contains, 1),
                        '>' => (Op::Gt, 1),
                        '<' => (Op::Lt, 1),
                        _ => return Err("Invalid query syntax near '!'".into()),
                    },
                };
                tokens.push(Token::Op(op));
                i += width;
            }
            _ => {
                let start = i;
                while i < chars.len()
                    && !matches!(
                        chars[i],
                        ' ' | '\t' | '\n' | '(' | ')' | '"' | '=' | '!' | '~' | '>' | '<'
                    )
                {
                    i += 1;
                }
                tokens.push(Token::Ident(chars[start..i].iter().collect()));
            }
        }
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn filters_like_bitbucket() {
        let item = json!({"name": "API-Gateway", "is_private": true, "project": {"key": "PLAT"}, "updated_on": "2025-03-01T00:00:00+00:00"});
        let fields = ["name", "is_private", "project.key", "updated_on"];
        let q = |s: &str| parse(s, &fields).unwrap().matches(&item);
        assert!(q(r#"name ~ "api""#));
        assert!(q(r#"name ~ "api" AND is_private = true"#));
        assert!(!q(r#"project.key = "WEB" OR name !~ "gate""#));
        assert!(q(
            r#"(project.key = "WEB" OR project.key = "PLAT") AND updated_on > 2025-01-01"#
        ));
        assert!(parse(r#"owner = "x""#, &fields).is_err());
        assert!(parse(r#"name ~"#, &fields).is_err());
    }
}
