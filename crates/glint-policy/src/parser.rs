//! The oslo.policy rule language.
//!
//! Check strings are split on whitespace; leading `(` and trailing `)` are
//! peeled off each word, and `and`, `or`, `not` (any case) are operators.
//! Precedence is `not` over `and` over `or`. Where oslo.policy would log a
//! malformed rule and quietly deny it, this parser returns an error so that
//! operators learn about it when the file is loaded.

use crate::check::unquote;
use crate::{PolicyError, Rule, template};

/// Deepest nesting of parentheses and `not` accepted, so that hostile input
/// cannot exhaust the stack.
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token<'a> {
    Open,
    Close,
    And,
    Or,
    Not,
    Check(&'a str),
}

/// Parses a check string. The empty string means "always".
pub fn parse_rule(text: &str) -> Result<Rule, PolicyError> {
    if text.is_empty() {
        return Ok(Rule::Always);
    }
    let tokens = tokenize(text);
    if tokens.is_empty() {
        return Err(PolicyError::syntax(
            text,
            "blank rule (use \"\" or \"@\" to always allow)",
        ));
    }
    let mut parser = Parser {
        text,
        tokens,
        pos: 0,
    };
    let rule = parser.or_expr(0)?;
    match parser.peek() {
        None => Ok(rule),
        Some(Token::Close) => Err(parser.error("unbalanced ')'")),
        Some(_) => Err(parser.error("checks must be joined by 'and' or 'or'")),
    }
}

/// Parses the deprecated list form: the inner lists are joined by `and`,
/// the outer list by `or`. Each element is a single check. An empty outer
/// list always allows; empty inner lists are skipped, and if nothing is
/// left the rule never allows.
pub fn parse_list_rule<S: AsRef<str>>(alternatives: &[Vec<S>]) -> Result<Rule, PolicyError> {
    if alternatives.is_empty() {
        return Ok(Rule::Always);
    }
    let mut any = Vec::with_capacity(alternatives.len());
    for conjunction in alternatives.iter().filter(|c| !c.is_empty()) {
        let mut all = conjunction
            .iter()
            .map(|check| single_check(check.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        any.push(if all.len() == 1 {
            all.remove(0)
        } else {
            Rule::And(all)
        });
    }
    Ok(match any.len() {
        0 => Rule::Never,
        1 => any.remove(0),
        _ => Rule::Or(any),
    })
}

fn single_check(text: &str) -> Result<Rule, PolicyError> {
    if text.is_empty() || text.contains(char::is_whitespace) {
        return Err(PolicyError::syntax(
            text,
            "a list-form rule element must be one check",
        ));
    }
    parse_check(text).map_err(|reason| PolicyError::syntax(text, reason))
}

fn tokenize(text: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    for word in text.split_whitespace() {
        let opened = word.trim_start_matches('(');
        tokens.extend(std::iter::repeat_n(Token::Open, word.len() - opened.len()));
        let core = opened.trim_end_matches(')');
        if !core.is_empty() {
            tokens.push(word_token(core));
        }
        tokens.extend(std::iter::repeat_n(Token::Close, opened.len() - core.len()));
    }
    tokens
}

fn word_token(word: &str) -> Token<'_> {
    if word.eq_ignore_ascii_case("and") {
        Token::And
    } else if word.eq_ignore_ascii_case("or") {
        Token::Or
    } else if word.eq_ignore_ascii_case("not") {
        Token::Not
    } else {
        Token::Check(word)
    }
}

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<Token<'a>>,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<Token<'a>> {
        self.tokens.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<Token<'a>> {
        let token = self.peek();
        self.pos += 1;
        token
    }

    fn error(&self, reason: impl Into<String>) -> PolicyError {
        PolicyError::syntax(self.text, reason)
    }

    fn or_expr(&mut self, depth: usize) -> Result<Rule, PolicyError> {
        let mut items = vec![self.and_expr(depth)?];
        while self.peek() == Some(Token::Or) {
            self.pos += 1;
            items.push(self.and_expr(depth)?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Rule::Or(items)
        })
    }

    fn and_expr(&mut self, depth: usize) -> Result<Rule, PolicyError> {
        let mut items = vec![self.unary(depth)?];
        while self.peek() == Some(Token::And) {
            self.pos += 1;
            items.push(self.unary(depth)?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Rule::And(items)
        })
    }

    fn unary(&mut self, depth: usize) -> Result<Rule, PolicyError> {
        if depth >= MAX_DEPTH {
            return Err(self.error("rule is nested too deeply"));
        }
        match self.next() {
            Some(Token::Not) => Ok(Rule::Not(Box::new(self.unary(depth + 1)?))),
            Some(Token::Open) => {
                if self.peek() == Some(Token::Close) {
                    return Err(self.error("empty parentheses"));
                }
                let inner = self.or_expr(depth + 1)?;
                match self.next() {
                    Some(Token::Close) => Ok(inner),
                    _ => Err(self.error("unbalanced '('")),
                }
            }
            Some(Token::Check(word)) => parse_check(word).map_err(|reason| self.error(reason)),
            Some(Token::Close) => Err(self.error("unexpected ')'")),
            Some(Token::And | Token::Or) => Err(self.error("'and'/'or' without a left operand")),
            None => Err(self.error("rule ends where a check was expected")),
        }
    }
}

/// Parses one check word: `@`, `!`, `rule:x`, `role:x`, `http(s):url` or a
/// generic `left:right`.
fn parse_check(word: &str) -> Result<Rule, String> {
    match word {
        "@" => return Ok(Rule::Always),
        "!" => return Ok(Rule::Never),
        _ => {}
    }
    let Some((kind, value)) = word.split_once(':') else {
        return Err(format!("{word:?} is not a check of the form kind:value"));
    };
    if value.is_empty() {
        return Err(format!("{kind:?} check has nothing after ':'"));
    }
    let template_error = |reason: &str| format!("{word:?}: {reason}");
    match kind {
        "rule" => Ok(Rule::RuleRef(value.to_owned())),
        "role" => {
            template::validate(value).map_err(template_error)?;
            Ok(Rule::Role(value.to_owned()))
        }
        "http" | "https" => {
            template::validate(value).map_err(template_error)?;
            Ok(Rule::Http(word.to_owned()))
        }
        "" => Err(format!("{word:?} has nothing before ':'")),
        _ => {
            check_side(kind, false).map_err(template_error)?;
            check_side(value, true).map_err(template_error)?;
            Ok(Rule::Generic {
                left: kind.to_owned(),
                right: value.to_owned(),
            })
        }
    }
}

/// A side starting with a quote must be a closed quoted literal; an
/// unquoted right side is a `%(key)s` template.
fn check_side(side: &str, is_right: bool) -> Result<(), &'static str> {
    if side.starts_with(['\'', '"']) {
        return match unquote(side) {
            Some(_) => Ok(()),
            None => Err("unterminated quoted literal"),
        };
    }
    if is_right {
        template::validate(side)
    } else {
        Ok(())
    }
}

#[cfg(test)]
#[path = "parser_tests.rs"]
mod tests;
