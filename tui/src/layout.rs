//! Layered left→right layout of a directed graph for the Map view (Sugiyama-style):
//! cycles broken by reversing DFS back edges, longest-path layering, dummy nodes on long
//! edges, barycentre ordering sweeps to reduce crossings, then orthogonal routes in the gaps
//! between layers. Coordinates are terminal cells in "world" space (before scrolling).

/// Sizes of the drawing at one zoom level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub box_w: i32,
    pub box_h: i32,
    /// Columns between two layers (edge channels and labels live here).
    pub gap: i32,
    /// Rows between two items of a layer.
    pub vgap: i32,
}

impl Geometry {
    /// Zoom levels, smallest first.
    pub const LEVELS: [Geometry; 3] = [
        Geometry {
            box_w: 12,
            box_h: 1,
            gap: 6,
            vgap: 1,
        },
        Geometry {
            box_w: 13,
            box_h: 3,
            gap: 17,
            vgap: 1,
        },
        Geometry {
            box_w: 20,
            box_h: 4,
            gap: 22,
            vgap: 1,
        },
    ];

    /// Room for an edge label on the last hop of a route.
    pub fn label_room(&self) -> i32 {
        (self.gap - 3).max(0)
    }
}

/// A node's box.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NodeBox {
    pub x: i32,
    pub y: i32,
    pub w: i32,
    pub h: i32,
    pub layer: usize,
}

/// An edge as an orthogonal polyline from the source's right side to the cell left of the
/// target's box (where the arrowhead goes).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Route {
    pub points: Vec<(i32, i32)>,
    /// Where the label may start, and how many cells it may take (on the last hop).
    pub label: Option<(i32, i32, i32)>,
    /// Drawn against its direction (it closes a cycle): no arrowhead.
    pub reversed: bool,
}

/// The layout of a graph.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Layout {
    pub geometry: Option<Geometry>,
    pub nodes: Vec<NodeBox>,
    /// One per input edge; `None` for self-loops.
    pub routes: Vec<Option<Route>>,
    pub width: i32,
    pub height: i32,
    /// Node indices per layer, top to bottom.
    pub layers: Vec<Vec<usize>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    Node(usize),
    /// A bend point of an edge that spans several layers.
    Dummy,
}

/// Lays out `node_count` nodes (in a deterministic input order) and `edges` (by index).
pub fn layout(node_count: usize, edges: &[(usize, usize)], geometry: Geometry) -> Layout {
    let n = node_count;
    // 1. Break cycles: DFS in input order, reverse back edges.
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, &(s, t)) in edges.iter().enumerate() {
        if s != t && s < n && t < n {
            out[s].push(i);
        }
    }
    let mut reversed = vec![false; edges.len()];
    let mut state = vec![0u8; n]; // 0 new, 1 on stack, 2 done
    for root in 0..n {
        if state[root] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        state[root] = 1;
        while let Some(&mut (v, ref mut next)) = stack.last_mut() {
            if let Some(&edge) = out[v].get(*next) {
                *next += 1;
                let t = edges[edge].1;
                match state[t] {
                    0 => {
                        state[t] = 1;
                        stack.push((t, 0));
                    }
                    1 => reversed[edge] = true,
                    _ => {}
                }
            } else {
                state[v] = 2;
                stack.pop();
            }
        }
    }
    let directed = |i: usize| -> Option<(usize, usize)> {
        let (s, t) = edges[i];
        if s == t || s >= n || t >= n {
            None
        } else if reversed[i] {
            Some((t, s))
        } else {
            Some((s, t))
        }
    };

    // 2. Longest-path layering (Kahn's order).
    let mut indegree = vec![0usize; n];
    let mut succ: Vec<Vec<usize>> = vec![Vec::new(); n];
    for i in 0..edges.len() {
        if let Some((s, t)) = directed(i) {
            indegree[t] += 1;
            succ[s].push(t);
        }
    }
    let mut layer = vec![0usize; n];
    let mut queue: std::collections::VecDeque<usize> =
        (0..n).filter(|&v| indegree[v] == 0).collect();
    while let Some(v) = queue.pop_front() {
        for &t in &succ[v] {
            layer[t] = layer[t].max(layer[v] + 1);
            indegree[t] -= 1;
            if indegree[t] == 0 {
                queue.push_back(t);
            }
        }
    }
    let layer_count = layer.iter().copied().max().map_or(0, |m| m + 1);

    // 3. Items per layer, dummies on long edges; chains of items per edge.
    let mut items: Vec<Item> = (0..n).map(Item::Node).collect();
    let mut item_layer: Vec<usize> = layer.clone();
    let mut chains: Vec<Vec<usize>> = vec![Vec::new(); edges.len()];
    for (i, chain) in chains.iter_mut().enumerate() {
        let Some((s, t)) = directed(i) else { continue };
        chain.push(s);
        for l in layer[s] + 1..layer[t] {
            items.push(Item::Dummy);
            item_layer.push(l);
            chain.push(items.len() - 1);
        }
        chain.push(t);
    }
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); items.len()];
    let mut succs: Vec<Vec<usize>> = vec![Vec::new(); items.len()];
    for chain in &chains {
        for pair in chain.windows(2) {
            succs[pair[0]].push(pair[1]);
            preds[pair[1]].push(pair[0]);
        }
    }
    let mut order: Vec<Vec<usize>> = vec![Vec::new(); layer_count];
    for (item, &l) in item_layer.iter().enumerate() {
        order[l].push(item);
    }

    // 4. Barycentre sweeps.
    let mut position = vec![0f64; items.len()];
    let index_positions = |order: &Vec<Vec<usize>>, position: &mut Vec<f64>| {
        for layer in order {
            for (p, &item) in layer.iter().enumerate() {
                position[item] = p as f64;
            }
        }
    };
    index_positions(&order, &mut position);
    for sweep in 0..8 {
        let down = sweep % 2 == 0;
        let layers: Vec<usize> = if down {
            (1..layer_count).collect()
        } else {
            (0..layer_count.saturating_sub(1)).rev().collect()
        };
        for l in layers {
            let mut keyed: Vec<(f64, usize)> = order[l]
                .iter()
                .map(|&item| {
                    let neighbours = if down { &preds[item] } else { &succs[item] };
                    let key = if neighbours.is_empty() {
                        position[item]
                    } else {
                        neighbours.iter().map(|&o| position[o]).sum::<f64>()
                            / neighbours.len() as f64
                    };
                    (key, item)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
            order[l] = keyed.into_iter().map(|(_, item)| item).collect();
            for (p, &item) in order[l].iter().enumerate() {
                position[item] = p as f64;
            }
        }
    }

    // 5. Coordinates: layers as columns, items stacked and centred vertically.
    let g = geometry;
    let column = |l: usize| -> i32 { l as i32 * (g.box_w + g.gap) };
    let item_h = |item: usize| match items[item] {
        Item::Node(_) => g.box_h,
        Item::Dummy => 1,
    };
    let heights: Vec<i32> = order
        .iter()
        .map(|layer| {
            let h: i32 = layer.iter().map(|&i| item_h(i) + g.vgap).sum();
            (h - g.vgap).max(0)
        })
        .collect();
    let height = heights.iter().copied().max().unwrap_or(0);
    let mut item_y = vec![0i32; items.len()];
    for (l, layer) in order.iter().enumerate() {
        let mut y = (height - heights[l]) / 2;
        for &item in layer {
            item_y[item] = y;
            y += item_h(item) + g.vgap;
        }
    }
    let mut nodes = vec![NodeBox::default(); n];
    let mut layers: Vec<Vec<usize>> = vec![Vec::new(); layer_count];
    for (l, layer) in order.iter().enumerate() {
        for &item in layer {
            if let Item::Node(v) = items[item] {
                nodes[v] = NodeBox {
                    x: column(l),
                    y: item_y[item],
                    w: g.box_w,
                    h: g.box_h,
                    layer: l,
                };
                layers[l].push(v);
            }
        }
    }
    let width = if layer_count == 0 {
        0
    } else {
        column(layer_count - 1) + g.box_w
    };

    // 6. Routes. Entry rows of a node spread over its height (by the caller's row); channels
    // spread over the gap by the caller's position in its layer.
    let slots = (g.gap / 4).max(1);
    let mid = |item: usize| item_y[item] + item_h(item) / 2;
    let mut entries: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, chain) in chains.iter().enumerate() {
        if chain.len() >= 2 {
            entries[chain[chain.len() - 1]].push(i);
        }
    }
    let mut entry_row = vec![0i32; edges.len()];
    for (v, list) in entries.iter_mut().enumerate() {
        list.sort_by_key(|&i| {
            let chain = &chains[i];
            (item_y[chain[chain.len() - 2]], i)
        });
        let count = list.len() as i32;
        for (k, &i) in list.iter().enumerate() {
            let k = k as i32;
            let row = if g.box_h <= 1 || count <= 1 {
                g.box_h / 2
            } else if count >= g.box_h {
                k * g.box_h / count
            } else {
                // Centre the used rows.
                (g.box_h - count) / 2 + k
            };
            entry_row[i] = nodes[v].y + row.clamp(0, g.box_h - 1);
        }
    }
    let mut routes = Vec::with_capacity(edges.len());
    for (i, chain) in chains.iter().enumerate() {
        if chain.len() < 2 {
            routes.push(None);
            continue;
        }
        let mut points = Vec::with_capacity(chain.len() * 3 + 1);
        let first = chain[0];
        let mut row = mid(first);
        points.push((column(item_layer[first]) + g.box_w, row));
        let mut label = None;
        for (k, pair) in chain.windows(2).enumerate() {
            let (a, b) = (pair[0], pair[1]);
            let l = item_layer[a];
            let slot = (position[a] as i32) % slots;
            let xc = column(l) + g.box_w + 1 + slot;
            let last = k + 2 == chain.len();
            let target_row = if last { entry_row[i] } else { mid(b) };
            points.push((xc, row));
            points.push((xc, target_row));
            let next_x = column(l + 1);
            if last {
                points.push((next_x - 1, target_row));
                let room = next_x - 2 - xc;
                if room > 0 {
                    label = Some((xc + 1, target_row, room.min(g.label_room())));
                }
            } else {
                points.push((next_x + g.box_w, target_row));
            }
            row = target_row;
        }
        routes.push(Some(Route {
            points,
            label,
            reversed: reversed[i],
        }));
    }
    Layout {
        geometry: Some(geometry),
        nodes,
        routes,
        width,
        height,
        layers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_follow_longest_paths_and_cycles_do_not_hang() {
        // 0 → 1 → 2, 0 → 2, 2 → 0 (cycle), 3 alone, 1 → 1 (self-loop).
        let edges = [(0, 1), (1, 2), (0, 2), (2, 0), (1, 1)];
        let layout = layout(4, &edges, Geometry::LEVELS[1]);
        assert_eq!(layout.nodes[0].layer, 0);
        assert_eq!(layout.nodes[1].layer, 1);
        assert_eq!(layout.nodes[2].layer, 2);
        assert!(layout.routes[4].is_none());
        assert!(layout.routes[3].as_ref().is_some_and(|r| r.reversed));
        let long = layout.routes[2].as_ref().map(|r| r.points.len());
        assert_eq!(long, Some(7)); // through one dummy
    }

    #[test]
    fn barycentre_ordering_uncrosses_a_simple_crossing() {
        // a→d, b→c: initial order a,b / c,d crosses; after sweeps it should not.
        let edges = [(0, 3), (1, 2)];
        let layout = layout(4, &edges, Geometry::LEVELS[1]);
        let crossing =
            (layout.nodes[0].y < layout.nodes[1].y) != (layout.nodes[3].y < layout.nodes[2].y);
        assert!(!crossing);
    }

    #[test]
    fn empty_graph() {
        let layout = layout(0, &[], Geometry::LEVELS[0]);
        assert_eq!((layout.width, layout.height), (0, 0));
    }
}
