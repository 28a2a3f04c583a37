#include "app/routing/spam.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using smsr::spam_score;

namespace {

const char* const kTypicalSpam = "CONGRATULATIONS!!! You WON a FREE prize, claim now at http://bit.ly/x - act now";

}  // namespace

TEST_CASE("typical spam scores above the default threshold of 0.7") {
  CHECK(spam_score(kTypicalSpam) > 0.7);
  CHECK(spam_score("URGENT! You are our lottery WINNER. Click here to claim your CASH reward: www.example.win") > 0.7);
}

TEST_CASE("ordinary messages get a spam score of at most 0.3") {
  for (const char* text : {"Can you remind me to call mom at 5?", "Yes", "see https://example.com/docs for the report",
                           "ok", "Running late, be there in 10 minutes", "Are you free for lunch tomorrow?",
                           "What's the weather in Montreal this weekend?"}) {
    INFO(text);
    CHECK(spam_score(text) <= 0.3);
  }
}

TEST_CASE("the spam score is always between 0 and 1") {
  std::string repeated;
  for (int i = 0; i < 200; ++i) repeated += std::string(kTypicalSpam) + " ";
  const std::vector<std::string> texts = {
      "",
      " ",
      "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
      "FREE FREE FREE WINNER PRIZE CASH CLAIM LOTTERY BITCOIN CRYPTO $$ REWARD LOAN ACT NOW!!!",
      std::string(5000, 'A'),
      repeated,
      "http://a http://b https://c www.d bit.ly/e http://f",
      std::string("\xFF\xFE\x00\x80 caf\xC3\xA9 \xF0\x9F\x98\x80", 15),
      "Can you remind me to call mom at 5?",
  };
  for (const auto& text : texts) {
    INFO(text.substr(0, 80));
    double score = spam_score(text);
    CHECK(score >= 0.0);
    CHECK(score <= 1.0);
  }
}
