# shellcheck shell=bash
# cfn-lint, AWS's CloudFormation linter, for the templates of `mcp-oauth deploy`
# (crates/cognito/template/*.yaml). It is pinned in moto-requirements.txt (moto's
# CloudFormation needs it), so it lives in moto's venv. Source moto.sh and this file, then:
#
#   moto_install    # installs cfn-lint with moto
#   cfn_lint_run    # lints every template, informational checks included; non-zero on findings
#
# Settings (environment): MCP_OAUTH_CACHE (default ~/.cache/mcp-oauth) holds the venv.

_CFN_LINT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

cfn_lint_run() {
    local venv="${MCP_OAUTH_CACHE:-$HOME/.cache/mcp-oauth}/venv-moto"
    local templates=("$_CFN_LINT_ROOT"/crates/cognito/template/*.yaml)
    if [[ ! -x "$venv/bin/cfn-lint" ]]; then
        printf 'cfn-lint: error: not installed in %s: run moto_install first\n' "$venv" >&2
        return 1
    fi
    printf 'cfn-lint: %s, %d template(s)\n' "$("$venv/bin/cfn-lint" --version)" "${#templates[@]}" >&2
    "$venv/bin/cfn-lint" --include-checks I -- "${templates[@]}"
}
