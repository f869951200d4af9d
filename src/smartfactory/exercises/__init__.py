"""Exercises with checkable answers: a seeded plant run, a question sheet, and a check against the ground truth.

    smartfactory exercise list
    smartfactory exercise start NAME --dir CLASS --student ID     # data, sheet.md, answers.toml in CLASS/ID/NAME
    smartfactory exercise check NAME --answers answers.toml --dir CLASS
    smartfactory exercise results --dir CLASS

Each student's seed is derived from the class seed and the student id (`exercises.seeds`), so answers differ
between students and the lecturer reproduces any of them. See docs/exercises.md.
"""
