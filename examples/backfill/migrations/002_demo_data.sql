-- Demo data: 100k people and 200k artworks (a real project has its own).
INSERT INTO people (id, name)
SELECT g, (ARRAY['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Frances', 'Ken'])[1 + g % 8]
          || CASE WHEN g % 5 = 0 THEN ' Maria' ELSE '' END || ' '
          || (ARRAY['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Allen', 'Thompson'])[1 + g % 7]
  FROM generate_series(1, 100000) g;

INSERT INTO artworks (id, artist_id, title)
SELECT g, 1 + g % 100000,
       (ARRAY['Study of', 'Night over', 'The Garden at', 'Portrait — ', 'Still Life with'])[1 + g % 5] || ' '
       || (ARRAY['Arles', 'a Pear', 'Montmartre', 'Café Tortoni', 'the Sea', 'Rain'])[1 + g % 6] || ' #' || g
  FROM generate_series(1, 200000) g;
