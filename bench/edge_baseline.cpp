// The Beast edge alone (app/http/edge.hpp, as sms-router configures it: its deadlines,
// caps and I/O threads), answering every request with a fixed TwiML and doing nothing
// else: the ceiling of the router's own HTTP layer.
#include <signal.h>

#include <cstdio>
#include <cstdlib>

#include "app/http/edge.hpp"
#include "app/routing/settings.hpp"

int main(int argc, char** argv) {
  const int port = argc > 1 ? std::atoi(argv[1]) : 8098;
  smsr::Config config;
  config.limits.max_connections_per_client = 0;  // wrk's connections all come from one address
  smsr::Settings settings(config);
  smsr::Edge edge(settings, [](smsr::HttpRequest&, smsr::Responder respond) {
    smsr::HttpResponse response;
    response.content_type = "text/xml";
    response.body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>";
    respond(std::move(response));
  });
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  edge.bind("127.0.0.1", port);
  edge.start();
  std::fprintf(stderr, "edge baseline listening on 127.0.0.1:%d\n", port);
  int signal = 0;
  sigwait(&stop, &signal);
  edge.stop(std::chrono::seconds(1));
}
