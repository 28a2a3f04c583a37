// The optional spam filter (SPEC "Spam filter"): a score from 0.0 to 1.0 built from simple,
// explainable signals. It never changes the text; above spam.threshold a message reaches
// no agent and is logged with outcome "spam".
#pragma once

#include <string_view>

namespace smsr {

double spam_score(std::string_view text);

}  // namespace smsr
