#include "app/routing/inbound.hpp"

#include <catch2/catch.hpp>

#include <string>

namespace smsr {
namespace {

TEST_CASE("Every opt-out word alone in the body is an opt-out, in any case and trimmed",
          "[inbound]") {
  for (const char* word : {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE",
                           "OPTOUT"}) {
    const std::string upper = word;
    std::string lower;
    for (char c : upper) lower.push_back(static_cast<char>(c - 'A' + 'a'));
    std::string mixed = lower;
    mixed[0] = upper[0];
    CAPTURE(upper);
    CHECK(classify_keyword(upper, "") == Keyword::kOptOut);
    CHECK(classify_keyword(lower, "") == Keyword::kOptOut);
    CHECK(classify_keyword(mixed, "") == Keyword::kOptOut);
    CHECK(classify_keyword("  " + lower + " \r\n", "") == Keyword::kOptOut);
    CHECK(classify_keyword("\t" + upper + "\n", "") == Keyword::kOptOut);
  }
}

TEST_CASE("START, YES and UNSTOP alone in the body are an opt-in, in any case and trimmed",
          "[inbound]") {
  for (const char* body : {"START", "start", "Start", " YES ", "yes\n", "Yes", "UNSTOP",
                           "\tunstop\r\n", "UnStOp"}) {
    CAPTURE(body);
    CHECK(classify_keyword(body, "") == Keyword::kOptIn);
  }
}

TEST_CASE("HELP and INFO alone in the body ask for help, in any case and trimmed", "[inbound]") {
  for (const char* body : {"HELP", "help", "Help", "  HELP  ", "INFO", "info\n", " Info\t"}) {
    CAPTURE(body);
    CHECK(classify_keyword(body, "") == Keyword::kHelp);
  }
}

TEST_CASE("A keyword inside a longer text is an ordinary message", "[inbound]") {
  for (const char* body : {"please stop", "stop please", "STOP ALL", "Stop sending me these",
                           "I want to cancel my order", "the end", "weekend", "yes please",
                           "yesterday", "help me with my taxes", "information", "start over",
                           "unstoppable", "", "   ", "hello"}) {
    CAPTURE(body);
    CHECK(classify_keyword(body, "") == Keyword::kNone);
  }
}

TEST_CASE("OptOutType from Twilio decides the class whatever the body says", "[inbound]") {
  CHECK(classify_keyword("hello there", "STOP") == Keyword::kOptOut);
  CHECK(classify_keyword("arrête", "STOP") == Keyword::kOptOut);
  CHECK(classify_keyword("START", "STOP") == Keyword::kOptOut);
  CHECK(classify_keyword("please resume", "START") == Keyword::kOptIn);
  CHECK(classify_keyword("STOP", "START") == Keyword::kOptIn);
  CHECK(classify_keyword("aide", "HELP") == Keyword::kHelp);
  CHECK(classify_keyword("STOP", "HELP") == Keyword::kHelp);
}

TEST_CASE("An empty OptOutType leaves the decision to the body", "[inbound]") {
  CHECK(classify_keyword("STOP", "") == Keyword::kOptOut);
  CHECK(classify_keyword("what's the weather", "") == Keyword::kNone);
}

TEST_CASE("An unregistered sender gets the default text when no keyword matches",
          "[inbound]") {
  const RepliesConfig replies;  // the defaults, no keyword menu
  REQUIRE_FALSE(replies.unknown_sender.empty());
  CHECK(unknown_sender_reply(replies, "hello", "+15145551234") == replies.unknown_sender);
  CHECK(unknown_sender_reply(replies, "", "+15145551234") == replies.unknown_sender);
}

TEST_CASE("An unregistered sender's body matching a keyword, trimmed and in any case, gets "
          "that keyword's text",
          "[inbound]") {
  RepliesConfig replies;
  replies.unknown_sender = "Not registered.";
  replies.unknown_keywords = {{"JOIN", "Ask your administrator for an account."},
                              {"PRICES", "Plans start at 5 dollars."}};

  for (const char* body : {"JOIN", "join", "Join", "  jOiN \r\n", "\tJOIN"}) {
    CAPTURE(body);
    CHECK(unknown_sender_reply(replies, body, "+15145551234") ==
          "Ask your administrator for an account.");
  }
  CHECK(unknown_sender_reply(replies, "prices", "+15145551234") == "Plans start at 5 dollars.");
  // Only the whole body is a keyword.
  CHECK(unknown_sender_reply(replies, "join now", "+15145551234") == "Not registered.");
  CHECK(unknown_sender_reply(replies, "I want to JOIN", "+15145551234") == "Not registered.");
  CHECK(unknown_sender_reply(replies, "JOINT", "+15145551234") == "Not registered.");
}

TEST_CASE("{phone} in the unknown-sender text becomes the URL-encoded E.164 number",
          "[inbound]") {
  RepliesConfig replies;
  replies.unknown_sender = "Sign up at https://example.org/join?phone={phone}";
  CHECK(unknown_sender_reply(replies, "hi", "+15145551234") ==
        "Sign up at https://example.org/join?phone=%2B15145551234");
}

TEST_CASE("Every {phone} occurrence is replaced, in keyword replies too", "[inbound]") {
  RepliesConfig replies;
  replies.unknown_sender = "{phone} is unknown; register {phone} at https://x.test/?p={phone}";
  replies.unknown_keywords = {{"JOIN", "{phone}{phone}"}};

  CHECK(unknown_sender_reply(replies, "hello", "+442079460958") ==
        "%2B442079460958 is unknown; register %2B442079460958 at "
        "https://x.test/?p=%2B442079460958");
  CHECK(unknown_sender_reply(replies, " join ", "+442079460958") ==
        "%2B442079460958%2B442079460958");
}

TEST_CASE("A text without {phone} is returned unchanged", "[inbound]") {
  RepliesConfig replies;
  replies.unknown_sender = "Not registered: {Phone} {phone";
  CHECK(unknown_sender_reply(replies, "hi", "+15145551234") == "Not registered: {Phone} {phone");
}

TEST_CASE("An empty unknown-sender text stays empty unless a keyword matches", "[inbound]") {
  RepliesConfig replies;
  replies.unknown_sender = "";
  replies.unknown_keywords = {{"MENU", "Reply JOIN to sign up, {phone}."}};
  CHECK(unknown_sender_reply(replies, "hello", "+15145551234").empty());
  CHECK(unknown_sender_reply(replies, "Menu", "+15145551234") ==
        "Reply JOIN to sign up, %2B15145551234.");
}

}  // namespace
}  // namespace smsr
