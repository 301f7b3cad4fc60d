#!/usr/bin/env bash
# The README's test command: installs what the tests need on a fresh Debian machine, then runs every
# test with WebGPU required (on a machine without a GPU, WebGPU runs on SwiftShader, a CPU Vulkan driver).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "webmtl needs Node.js 20 or newer (found: $(node --version 2>/dev/null || echo none)); install it first, e.g. from nodejs.org or your distribution's Node 20 packages" >&2
  exit 1
fi

ICD=/usr/lib/chromium/vk_swiftshader_icd.json
need_apt=()
[ -f "$ICD" ] && [ -x /usr/lib/chromium/chromium-headless-shell ] || need_apt+=(chromium-headless-shell)
ldconfig -p | grep 'libvulkan.so.1 ' >/dev/null || need_apt+=(libvulkan1)  # not grep -q: SIGPIPE under pipefail
/usr/bin/python3 -c 'import onnx' 2>/dev/null || need_apt+=(python3-onnx)  # the ONNX checker the export tests run
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "Installing ${need_apt[*]} (SwiftShader Vulkan driver and loader for the WebGPU tests, ONNX checker)"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${need_apt[@]}"
fi

# onnxruntime-node (the export tests' runtime) ships its CPU build in the package; its install script
# would only fetch optional GPU builds from the network.
ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund
npm run check   # format, lint, import order (Biome)
export VK_ICD_FILENAMES="$ICD"
export WEBMTL_REQUIRE_WEBGPU=1
export WEBMTL_REQUIRE_ONNX_CHECKER=1
npm test
