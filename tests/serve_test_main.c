/* `wirebuf serve` linked with the test engine (tests/test_engine.c) for the
 * wire-layer tests: the same CLI, the same server, a test double behind
 * src/server/engine.h. Never installed. */
int wb_cli_serve(int argc, char **argv);
int main(int argc, char **argv) { return wb_cli_serve(argc, argv); }
