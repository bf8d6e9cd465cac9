#!/bin/bash
# One-shot step of docker-compose.yml, run in the Elasticsearch image (it has curl) as the elastic
# superuser. Idempotent: run again, it sets the same passwords and the same role.
#   - the password of the built-in kibana_system user, which Kibana logs in as;
#   - the role dmarcflow_writer: only the dmarcflow indices (<prefix>-*), plus the cluster privileges
#     to install and check its index templates (`dmarcflow es setup`, and the sync's missing-template check);
#   - the user dmarcflow with that role, which the daemon and `dmarcflow es setup` connect as.
# Every password comes from a file under /run/secrets (compose `secrets:`), never from the environment.
set -euo pipefail

es="${ES_URL:-http://elasticsearch:9200}"
prefix="${DMARCFLOW_INDEX_PREFIX:-dmarcflow}"
secrets="${SECRETS_DIR:-/run/secrets}"
elastic_password="$(cat "$secrets/elastic_password")"
kibana_password="$(cat "$secrets/kibana_system_password")"
dmarcflow_password="$(cat "$secrets/dmarcflow_es_password")"

# curl reads the credentials from a private file and the body from stdin: no password on a command line.
auth="$(mktemp)"
trap 'rm -f "$auth"' EXIT
chmod 600 "$auth"
printf 'user = "elastic:%s"\n' "$(printf '%s' "$elastic_password" | sed 's/\\/\\\\/g; s/"/\\"/g')" >"$auth"

call() {  # METHOD PATH JSON: fails with the answer when Elasticsearch says no
    local answer
    answer="$(printf '%s' "$3" | curl -sS -K "$auth" -w '\n%{http_code}' -X "$1" \
        -H 'Content-Type: application/json' --data-binary @- "${es}$2")"
    case "${answer##*$'\n'}" in
        2??) echo "es-users: $1 $2: ok" ;;
        *) echo "es-users: $1 $2 failed: ${answer%$'\n'*}" >&2; exit 1 ;;
    esac
}

json_string() { printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g')"; }  # a JSON string literal

call POST /_security/user/kibana_system/_password "{\"password\": $(json_string "$kibana_password")}"
call PUT /_security/role/dmarcflow_writer "{
  \"cluster\": [\"monitor\", \"manage_index_templates\"],
  \"indices\": [{
    \"names\": [\"${prefix}-*\"],
    \"privileges\": [\"create_doc\", \"create_index\", \"view_index_metadata\", \"read\", \"delete_index\"]
  }]
}"
call PUT /_security/user/dmarcflow "{
  \"password\": $(json_string "$dmarcflow_password"),
  \"roles\": [\"dmarcflow_writer\"],
  \"full_name\": \"dmarcflow daemon\"
}"
