//! Recipe templates: `{version}`, `{name}` and matrix keys in `output`,
//! `prefix` and `command` strings; `{{` and `}}` are literal braces.

use std::collections::BTreeMap;

/// Why a template does not render.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unclosed `{{` in template")]
    Unclosed,
    #[error("unknown placeholder {{{name}}} (known: {known})")]
    Unknown { name: String, known: String },
    #[error("unmatched `}}` in template (write `}}}}` for a literal brace)")]
    Unmatched,
}

/// Expand `{var}` placeholders; `{{` and `}}` are literal braces.
pub(crate) fn render_template(
    template: &str,
    vars: &BTreeMap<&str, &str>,
) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len());
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) => name.push(c),
                        None => return Err(TemplateError::Unclosed),
                    }
                }
                match vars.get(name.as_str()) {
                    Some(v) => out.push_str(v),
                    None => {
                        let known = vars
                            .keys()
                            .map(|k| format!("{{{k}}}"))
                            .collect::<Vec<_>>()
                            .join(", ");
                        return Err(TemplateError::Unknown { name, known });
                    }
                }
            }
            '}' => return Err(TemplateError::Unmatched),
            c => out.push(c),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_render_and_reject_unknown_placeholders() {
        let mut vars = BTreeMap::new();
        vars.insert("version", "1.2.3");
        assert_eq!(
            render_template("a-{version}-{{x}}", &vars).unwrap(),
            "a-1.2.3-{x}"
        );
        assert!(render_template("{nope}", &vars)
            .unwrap_err()
            .to_string()
            .contains("{version}"));
        assert!(render_template("{version", &vars).is_err());
        assert!(render_template("x}", &vars).is_err());
    }
}
