// The version string reported by `version` and /health.
#pragma once

namespace smsr {

const char* version_string();

}  // namespace smsr
