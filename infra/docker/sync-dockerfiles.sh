#!/usr/bin/env bash
# Writes <service>/Dockerfile for the services and ops/ from the shared template
# infra/docker/service.Dockerfile (only the ARG SERVICE/PACKAGE defaults differ).
#
#   infra/docker/sync-dockerfiles.sh          rewrite them
#   infra/docker/sync-dockerfiles.sh --check  exit 1 if any is out of date
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
TEMPLATE="$HERE/service.Dockerfile"
check=0
[ "${1:-}" = "--check" ] && check=1

render() { # service package
  echo "# GENERATED from infra/docker/service.Dockerfile by infra/docker/sync-dockerfiles.sh; edit the template."
  sed -e "s/^ARG SERVICE\$/ARG SERVICE=$1/" -e "s/^ARG PACKAGE\$/ARG PACKAGE=$2/" "$TEMPLATE"
}

stale=0
for service in order-service store-service delivery-service mypage-service identity-service web ops; do
  package="${service//-/_}"
  [ "$service" = ops ] && package=fooddelivery_ops
  target="$ROOT/$service/Dockerfile"
  if [ "$check" = 1 ]; then
    if ! diff -q <(render "$service" "$package") "$target" >/dev/null 2>&1; then
      echo "out of date: $service/Dockerfile (run infra/docker/sync-dockerfiles.sh)" >&2
      stale=1
    fi
  else
    mkdir -p "$(dirname "$target")"
    render "$service" "$package" > "$target"
    echo "wrote $service/Dockerfile"
  fi
done
exit "$stale"
