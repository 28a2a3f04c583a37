#include "core/version.hpp"

namespace smsr {

const char* version_string() { return SMSR_VERSION; }

}  // namespace smsr
