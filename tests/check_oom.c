#include "helpers.h"
static Suite *suite(void) { return suite_create("placeholder"); }
int main(void) { return run_suite(suite()); }
