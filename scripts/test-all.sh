#!/usr/bin/env bash
# The README's test command: installs what the tests need on a fresh Debian machine, then runs every
# test with WebGPU required (on a machine without a GPU, WebGPU runs on SwiftShader, a CPU Vulkan driver).
set -euo pipefail
cd "$(dirname "$0")/.."

ICD=/usr/lib/chromium/vk_swiftshader_icd.json
need_apt=()
[ -f "$ICD" ] && [ -x /usr/lib/chromium/chromium-headless-shell ] || need_apt+=(chromium-headless-shell)
ldconfig -p | grep -q 'libvulkan.so.1 ' || need_apt+=(libvulkan1)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "Installing ${need_apt[*]} (SwiftShader Vulkan driver and loader for the WebGPU tests)"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${need_apt[@]}"
fi

npm ci --no-audit --no-fund
export VK_ICD_FILENAMES="$ICD"
export WEBMTL_REQUIRE_WEBGPU=1
npm test
