// Builds the benchmark's inputs: a realistic population in a real sms-router database, and
// a file of distinct, pre-signed Twilio webhooks for wrk (bench/webhook.lua).
//
//   bench_tool populate DB USERS      users with extra numbers across several countries
//   bench_tool requests DB COUNT OUT TOKEN URL
//                                     COUNT webhooks from Zipf-distributed senders, ~5 %
//                                     of them unregistered; one "signature<TAB>body" a line
#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <thread>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "app/twilio/signature.hpp"
#include "core/clock.hpp"
#include "core/phone.hpp"
#include "storage/store.hpp"

namespace {

using smsr::PhoneNormalizer;

// Number shapes libphonenumber accepts as valid, by country; digits after the prefix are random.
struct NumberShape {
  const char* prefix;
  int random_digits;
};
const NumberShape kShapes[] = {
    {"+1212", 7}, {"+1312", 7}, {"+1415", 7}, {"+1514", 7}, {"+1438", 7}, {"+1617", 7}, {"+1646", 7},
    {"+1702", 7}, {"+1718", 7}, {"+1917", 7}, {"+1416", 7}, {"+1604", 7},           // US, Canada
    {"+4474", 8}, {"+4475", 8}, {"+4477", 8}, {"+4478", 8}, {"+4479", 8},           // UK mobiles
    {"+336", 8},  {"+337", 8},                                                      // France mobiles
    {"+49151", 8}, {"+49160", 7}, {"+49170", 7},                                    // Germany mobiles
    {"+614", 8},                                                                    // Australia mobiles
};

std::string random_number(std::mt19937_64& rng, const PhoneNormalizer& normalizer) {
  for (;;) {
    const auto& shape = kShapes[rng() % std::size(kShapes)];
    std::string n = shape.prefix;
    // NANP exchanges start with 2-9.
    for (int i = 0; i < shape.random_digits; ++i) {
      char d = static_cast<char>('0' + rng() % 10);
      if (i == 0 && n.rfind("+1", 0) == 0 && d < '2') d = static_cast<char>('2' + rng() % 8);
      n.push_back(d);
    }
    if (auto e164 = normalizer.to_e164(n)) return *e164;
  }
}

int populate(const std::string& db_path, long users) {
  { smsr::Store store(db_path, smsr::system_clock()); }  // creates and migrates the schema
  SQLite::Database db(db_path, SQLite::OPEN_READWRITE);
  db.exec("PRAGMA journal_mode=WAL");
  db.exec("PRAGMA synchronous=OFF");  // set-up only; the service itself runs with FULL
  PhoneNormalizer normalizer("US");
  std::mt19937_64 rng(42);
  SQLite::Transaction txn(db);
  SQLite::Statement user(db,
                         "INSERT OR IGNORE INTO users (id, email, full_name, phone_number, is_active, "
                         "created_ms, updated_ms) VALUES (?, ?, ?, ?, 1, 0, 0)");
  SQLite::Statement extra(db,
                          "INSERT OR IGNORE INTO phone_mappings (user_id, phone_number, created_ms) "
                          "VALUES (?, ?, 0)");
  long extras = 0;
  for (long id = 1; id <= users; ++id) {
    user.bind(1, static_cast<int64_t>(id));
    user.bind(2, "user" + std::to_string(id) + "@example.com");
    user.bind(3, "User " + std::to_string(id));
    user.bind(4, random_number(rng, normalizer));
    user.exec();
    user.reset();
    if (rng() % 4 == 0) {  // a quarter of the users have a second number
      extra.bind(1, static_cast<int64_t>(id));
      extra.bind(2, random_number(rng, normalizer));
      extra.exec();
      extra.reset();
      ++extras;
    }
    if (id % 100000 == 0) std::fprintf(stderr, "  %ld users\n", id);
  }
  txn.commit();
  std::printf("populated %s: %ld users, %ld extra numbers\n", db_path.c_str(), users, extras);
  return 0;
}

// Zipf(s=1) over ranks 1..n by inverse transform on the harmonic CDF approximation.
class Zipf {
 public:
  explicit Zipf(long n) : n_(n), h_n_(std::log(static_cast<double>(n)) + 0.5772156649) {}
  long sample(std::mt19937_64& rng) const {
    std::uniform_real_distribution<double> u(0.0, 1.0);
    double r = std::exp(u(rng) * h_n_ - 0.5772156649);
    long k = static_cast<long>(r);
    return std::clamp(k, 1L, n_);
  }

 private:
  long n_;
  double h_n_;
};

int requests(const std::string& db_path, long count, const std::string& out_path, const std::string& token,
             const std::string& url) {
  SQLite::Database db(db_path, SQLite::OPEN_READONLY);
  std::vector<std::string> numbers;  // every registered number, ordered by user id
  SQLite::Statement all(db,
                        "SELECT phone_number FROM users WHERE phone_number IS NOT NULL UNION ALL "
                        "SELECT phone_number FROM phone_mappings");
  while (all.executeStep()) numbers.push_back(all.getColumn(0).getString());
  if (numbers.empty()) {
    std::fprintf(stderr, "no users in %s: run populate first\n", db_path.c_str());
    return 1;
  }
  std::mt19937_64 rng(7);
  // A random rank -> number mapping, so the heavy senders are spread over the id space.
  std::shuffle(numbers.begin(), numbers.end(), rng);
  Zipf zipf(static_cast<long>(numbers.size()));
  PhoneNormalizer normalizer("US");
  std::ofstream out(out_path, std::ios::trunc);
  long unknown = 0;
  for (long i = 0; i < count; ++i) {
    std::string from;
    if (rng() % 100 < 5) {
      from = random_number(rng, normalizer);  // almost surely unregistered
      ++unknown;
    } else {
      from = numbers[static_cast<std::size_t>(zipf.sample(rng) - 1)];
    }
    char sid[40];
    std::snprintf(sid, sizeof sid, "SM%016lx%016lx", static_cast<unsigned long>(rng()), static_cast<unsigned long>(i));
    smsr::FormFields fields = {
        {"ToCountry", "US"},     {"SmsMessageSid", sid},
        {"NumMedia", "0"},       {"SmsSid", sid},
        {"SmsStatus", "received"}, {"Body", "Remind me to call the dentist tomorrow at 9, message " + std::to_string(i)},
        {"To", "+15005550006"},  {"NumSegments", "1"},
        {"MessageSid", sid},     {"AccountSid", "AC00000000000000000000000000000000"},
        {"From", from},          {"ApiVersion", "2010-04-01"},
    };
    std::string signature = smsr::compute_signature(token, smsr::signature_payload(url, fields));
    out << signature << '\t' << smsr::encode_form(fields) << '\n';
  }
  std::printf("wrote %ld signed webhooks to %s (%ld from unregistered numbers)\n", count, out_path.c_str(), unknown);
  return 0;
}

// Opens COUNT connections to 127.0.0.1:PORT from SOURCE, each sending a partial request
// head, then one more header line per second on those still open, for SECONDS. Prints how
// many the router kept open (the rest it refused or cut).
int hold(int port, int count, const std::string& source, int seconds) {
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
  std::vector<int> fds;
  for (int i = 0; i < count; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in local{};
    local.sin_family = AF_INET;
    inet_pton(AF_INET, source.c_str(), &local.sin_addr);
    sockaddr_in remote{};
    remote.sin_family = AF_INET;
    remote.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0 ||
        ::connect(fd, reinterpret_cast<sockaddr*>(&remote), sizeof remote) != 0) {
      if (fd >= 0) ::close(fd);
      continue;
    }
    const char head[] = "POST /sms-router/webhook/sms HTTP/1.1\r\nHost: x\r\n";
    ::send(fd, head, sizeof head - 1, MSG_NOSIGNAL);
    fds.push_back(fd);
  }
  std::fprintf(stderr, "hold: %zu of %d connected\n", fds.size(), count);
  for (int second = 0; second < seconds; ++second) {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    int open = 0;
    for (int& fd : fds) {
      if (fd < 0) continue;
      const std::string line = "X-Trickle-" + std::to_string(second) + ": v\r\n";
      char peek;
      // A refused or cut connection has been answered and closed by the router.
      if (::recv(fd, &peek, 1, MSG_DONTWAIT | MSG_PEEK) >= 0 ||
          ::send(fd, line.data(), line.size(), MSG_NOSIGNAL) < 0) {
        ::close(fd);
        fd = -1;
        continue;
      }
      ++open;
    }
    std::fprintf(stderr, "hold: %d open after %d s\n", open, second + 1);
  }
  for (int fd : fds) {
    if (fd >= 0) ::close(fd);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 3 && args[0] == "populate") return populate(args[1], std::stol(args[2]));
  if (args.size() == 6 && args[0] == "requests") {
    return requests(args[1], std::stol(args[2]), args[3], args[4], args[5]);
  }
  if (args.size() == 5 && args[0] == "hold") {
    return hold(std::stoi(args[1]), std::stoi(args[2]), args[3], std::stoi(args[4]));
  }
  std::fprintf(stderr,
               "usage: bench_tool populate DB USERS\n"
               "       bench_tool requests DB COUNT OUT TOKEN URL\n"
               "       bench_tool hold PORT COUNT SOURCE_ADDRESS SECONDS\n");
  return 2;
}
