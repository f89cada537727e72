#!/usr/bin/env bash
# System packages the test suite needs: Debian's Chromium for the browser login tests, redis-server (and
# redis-cli) for the Redis token store's tests and benchmarks (each starts its own server on a free port), and
# openssl to make the certificates of the Redis TLS test, curl for `hpauth curl`'s tests, and `script` (bsdutils)
# for the pseudo-terminal tests; kubectl (Debian's kubernetes-client where none is installed), python3 and git
# (with git-http-backend) for the token-format and git credential helper tests; tinyproxy, a real forward proxy for
# the HTTPS_PROXY tests (each starts its own on a free loopback port; the package's system service is not used);
# zsh and fish for `hpauth completion`'s tests (bash is there already), and systemd-analyze (systemd) to verify the
# keepalive units in docs/recipes.md.
# Idempotent: does nothing when they are already installed.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v script >/dev/null 2>&1 || need+=(bsdutils)
command -v kubectl >/dev/null 2>&1 || need+=(kubernetes-client)
command -v python3 >/dev/null 2>&1 || need+=(python3)
command -v git >/dev/null 2>&1 || need+=(git)
command -v tinyproxy >/dev/null 2>&1 || need+=(tinyproxy)
command -v zsh >/dev/null 2>&1 || need+=(zsh)
command -v fish >/dev/null 2>&1 || need+=(fish)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi
  echo "installing system packages: ${need[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
