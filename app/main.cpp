#include "app/cli/commands.hpp"

int main(int argc, char** argv) { return smsr::run(argc, argv); }
