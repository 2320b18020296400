#!/bin/sh
# Every non-merge commit since CONTRIBUTING.md's commit rule began has a
# subject of at most 72 characters and a body. Skipped outside a git
# checkout or in a shallow clone that lacks that commit.
set -eu
cd "$(dirname "$0")/.."
if ! git rev-parse --git-dir >/dev/null 2>&1; then
    echo "check-commit-messages: not a git checkout, skipped"
    exit 0
fi
base=$(git log --format=%H --diff-filter=A -- CONTRIBUTING.md | tail -n 1)
if [ -z "$base" ] || [ "$(git rev-parse --is-shallow-repository)" = true ]; then
    echo "check-commit-messages: history incomplete, skipped"
    exit 0
fi
bad=0
for commit in $(git rev-list --no-merges "$base^..HEAD"); do
    subject=$(git log -1 --format=%s "$commit")
    if [ "${#subject}" -gt 72 ]; then
        echo "$commit: subject has ${#subject} characters (at most 72): $subject"
        bad=1
    fi
    if [ -z "$(git log -1 --format=%b "$commit" | tr -d '[:space:]')" ]; then
        echo "$commit: no body saying why: $subject"
        bad=1
    fi
done
[ "$bad" -eq 0 ] && echo "check-commit-messages: every commit since $(git rev-parse --short "$base") is well-formed"
exit "$bad"
