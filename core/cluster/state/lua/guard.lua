-- Writes nothing: passes (1) only for the current leader at its epoch, before a file-system effect.
return 1
