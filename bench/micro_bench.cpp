// Micro-benchmarks of the per-webhook work: signature check, phone normalisation, and
// number lookup with and without the cache, against the benchmark population
// (BENCH_DB, created by bench/run.sh; default bench-data/population.db).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <random>

#include <SQLiteCpp/Database.h>

#include "app/routing/directory.hpp"
#include "app/twilio/signature.hpp"
#include "core/clock.hpp"
#include "core/phone.hpp"
#include "storage/store.hpp"

namespace {

const smsr::FormFields kFields = {
    {"ToCountry", "US"},        {"SmsMessageSid", "SM0123456789abcdef0123456789abcdef"},
    {"NumMedia", "0"},          {"SmsSid", "SM0123456789abcdef0123456789abcdef"},
    {"SmsStatus", "received"},  {"Body", "Remind me to call the dentist tomorrow at 9"},
    {"To", "+15005550006"},     {"NumSegments", "1"},
    {"MessageSid", "SM0123456789abcdef0123456789abcdef"},
    {"AccountSid", "AC00000000000000000000000000000000"},
    {"From", "+15145550101"},   {"ApiVersion", "2010-04-01"},
};
const std::string kUrl = "https://router.example.com/sms-router/webhook/sms";
const std::string kToken = "0123456789abcdef0123456789abcdef";

void BM_SignatureCheck(benchmark::State& state) {
  std::string signature = smsr::compute_signature(kToken, smsr::signature_payload(kUrl, kFields));
  std::vector<std::string> tokens = {kToken, ""};
  for (auto _ : state) {
    auto check = smsr::check_form_signature(kUrl, kFields, signature, tokens);
    benchmark::DoNotOptimize(check.valid);
  }
}
BENCHMARK(BM_SignatureCheck);

void BM_Normalize(benchmark::State& state) {
  smsr::PhoneNormalizer normalizer("US");
  const char* inputs[] = {"+15145550101", "(514) 555-0102", "514.555.0103", "+44 20 7946 0958", "4388290590"};
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(normalizer.to_e164(inputs[i++ % 5]));
  }
}
BENCHMARK(BM_Normalize);

std::string bench_db() {
  const char* env = std::getenv("BENCH_DB");
  return env ? env : "bench-data/population.db";
}

std::vector<std::string> sample_numbers(std::size_t n) {
  SQLite::Database db(bench_db(), SQLite::OPEN_READONLY);
  SQLite::Statement st(db, "SELECT phone_number FROM users ORDER BY random() LIMIT ?");
  st.bind(1, static_cast<int64_t>(n));
  std::vector<std::string> out;
  while (st.executeStep()) out.push_back(st.getColumn(0).getString());
  return out;
}

// Every lookup misses the cache: straight to SQLite (indexed query on a read connection).
void BM_LookupUncached(benchmark::State& state) {
  smsr::Store store(bench_db(), smsr::system_clock());
  auto numbers = sample_numbers(100000);
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(store.resolve(numbers[i++ % numbers.size()]));
  }
  state.counters["users"] = static_cast<double>(store.stats().users);
}
BENCHMARK(BM_LookupUncached);

// Warm cache: the same 10,000 numbers over and over.
void BM_LookupCached(benchmark::State& state) {
  smsr::Store store(bench_db(), smsr::system_clock());
  smsr::PhoneDirectory directory(store, smsr::system_clock(), 100000, std::chrono::seconds(300));
  auto numbers = sample_numbers(10000);
  for (const auto& n : numbers) directory.resolve(n);
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(directory.resolve(numbers[i++ % numbers.size()]));
  }
}
BENCHMARK(BM_LookupCached);

}  // namespace

BENCHMARK_MAIN();
