SELECT 1; -- reserved
