// The ceiling to compare against: cpp-httplib configured exactly as sms-router configures
// it (TCP_NODELAY, worker pool, deep listen backlog), answering every POST with a fixed
// TwiML and doing nothing else.
#include <httplib.h>
#include <sys/socket.h>

#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  int port = argc > 1 ? std::atoi(argv[1]) : 8099;
  httplib::Server server;
  server.new_task_queue = [] { return new httplib::ThreadPool(256); };
  server.set_tcp_nodelay(true);
  server.set_keep_alive_max_count(10000);
  server.set_keep_alive_timeout(15);
  int listen_fd = -1;
  server.set_socket_options([&listen_fd](int fd) {
    int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    listen_fd = fd;
  });
  server.Post("/sms-router/webhook/sms", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>", "text/xml");
  });
  if (!server.bind_to_port("127.0.0.1", port)) {
    std::fprintf(stderr, "cannot bind 127.0.0.1:%d\n", port);
    return 1;
  }
  ::listen(listen_fd, 4096);
  std::fprintf(stderr, "baseline listening on 127.0.0.1:%d\n", port);
  server.listen_after_bind();
}
