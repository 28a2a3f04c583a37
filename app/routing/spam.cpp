#include "app/routing/spam.hpp"

#include <algorithm>
#include <cctype>
#include <string>

namespace smsr {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

int count_occurrences(const std::string& haystack, std::string_view needle) {
  int n = 0;
  for (auto pos = haystack.find(needle); pos != std::string::npos; pos = haystack.find(needle, pos + needle.size())) ++n;
  return n;
}

// Each signal adds a weight; the sum is capped at 1.0. The weights are chosen so that one
// signal alone never crosses the default threshold (0.7): a link, or "free", or capitals
// alone are normal in real conversations.
double links(const std::string& t) {
  int n = count_occurrences(t, "http://") + count_occurrences(t, "https://") + count_occurrences(t, "www.") +
          count_occurrences(t, "bit.ly/");
  return std::min(0.45, 0.3 * n);
}

double money_words(const std::string& t) {
  static const char* const words[] = {"free",    "winner", "won ",     "prize", "cash",   "claim", "lottery",
                                      "bitcoin", "crypto", "gift card", "$$",   "reward", "loan",  "congratulations"};
  int n = 0;
  for (const char* w : words) n += t.find(w) != std::string::npos;
  return std::min(0.45, 0.15 * n);
}

double urgency(const std::string& t) {
  static const char* const phrases[] = {"act now",  "limited time", "urgent",      "click here", "call now",
                                        "expires",  "don't miss",   "dont miss",   "verify your", "reply yes"};
  int n = 0;
  for (const char* p : phrases) n += t.find(p) != std::string::npos;
  return std::min(0.4, 0.2 * n);
}

double shouting(std::string_view text) {
  int letters = 0, upper = 0;
  for (unsigned char c : text) {
    if (std::isalpha(c)) {
      ++letters;
      upper += std::isupper(c) != 0;
    }
  }
  return letters >= 10 && upper * 10 >= letters * 7 ? 0.25 : 0.0;
}

double punctuation(std::string_view text) {
  auto bangs = std::count(text.begin(), text.end(), '!');
  return bangs >= 3 ? 0.15 : 0.0;
}

// Very short and very long texts are weak signals on their own ("?" or a pasted page).
double length(std::string_view text) {
  auto begin = text.find_first_not_of(" \t\r\n");
  auto visible = begin == std::string_view::npos ? 0 : text.find_last_not_of(" \t\r\n") - begin + 1;
  if (visible < 2 || text.size() > 1000) return 0.1;
  return 0.0;
}

}  // namespace

double spam_score(std::string_view text) {
  std::string t = lower(text);
  double score = links(t) + money_words(t) + urgency(t) + shouting(text) + punctuation(text) + length(text);
  return std::min(1.0, score);
}

}  // namespace smsr
