/* The calculator's interface, shared by parent and child. */
#ifndef CALC_H
#define CALC_H
#define CALC_DESCRIPTOR "com.example.Calculator"
enum { CALC_ADD = 1, CALC_EXIT = 2 };
#endif
