/* The end of one storage type's instance of the row templates (see _fi_row_type.h). */
#undef FI_V
#undef FI_M
#undef FI_I
#undef FI_S
#undef FI_W
#undef FI_NH
#undef FI_SEL
#undef FI_SPLAT
#undef FI_EXPV
#undef FI_LOGV
#undef FI_HALF
#undef FI_T
#undef FI_SFX
#undef FI_LOADV
#undef FI_LOAD1
#undef FI_NEGINF
#undef FI_DBL
