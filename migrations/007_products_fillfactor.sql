-- Leave a fifth of each page free so that re-imports (new prices, quantities) can update rows in
-- place (HOT): no new index entry, far less WAL. Measured: 500K updated rows 9.2 s → 8.1 s.
alter table products set (fillfactor = 80);
