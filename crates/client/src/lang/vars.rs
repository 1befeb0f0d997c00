//! The variables a catalogue's sentence uses, read from its text.

use std::collections::BTreeSet;

use fluent_syntax::ast::{Expression, InlineExpression, Pattern, PatternElement};

/// The names of the variables `pattern` uses, selectors and variants included.
pub(crate) fn of_pattern(pattern: &Pattern<&str>) -> BTreeSet<String> {
    let mut into = BTreeSet::new();
    pattern_variables(pattern, &mut into);
    into
}

fn inline_variables(expression: &InlineExpression<&str>, into: &mut BTreeSet<String>) {
    match expression {
        InlineExpression::VariableReference { id } => {
            into.insert(id.name.to_string());
        }
        InlineExpression::Placeable { expression } => variables(expression, into),
        _ => {}
    }
}

fn variables(expression: &Expression<&str>, into: &mut BTreeSet<String>) {
    match expression {
        Expression::Inline(inline) => inline_variables(inline, into),
        Expression::Select { selector, variants } => {
            inline_variables(selector, into);
            for variant in variants {
                pattern_variables(&variant.value, into);
            }
        }
    }
}

fn pattern_variables(pattern: &Pattern<&str>, into: &mut BTreeSet<String>) {
    for element in &pattern.elements {
        if let PatternElement::Placeable { expression } = element {
            variables(expression, into);
        }
    }
}
