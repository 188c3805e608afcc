"""What is published: the results store, the leaderboard and its charts, the pull request's
comment and the GitHub client that posts it (docs/DESIGN.md, Pipeline).
"""
