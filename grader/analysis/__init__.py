"""What a submission's files show without running them: which files a pull request may change
(scope), what kind of submission it is (static), the techniques its weights and code show,
and the quality of the code its model reaches (docs/DESIGN.md, Techniques and code quality).
"""
